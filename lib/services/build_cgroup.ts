/**
 * @module
 * The parent cgroup builds run in. A build's `cpushares` 2 only weighs
 * against its siblings inside Docker's `/docker` cgroup (the service
 * containers); `/docker` itself competes with the daemon (the proxy, the
 * isolates) at the full default weight, so a busy build still takes a share
 * of every core from serving. A parent of the builds' own at the root of the
 * hierarchy, marked `cpu.idle = 1` (SCHED_IDLE for the group, Linux 5.15+;
 * else the lowest weight), lets builds run only on CPU nothing else wants.
 *
 * Docker takes a path parent only with its `cgroupfs` driver; with the
 * `systemd` driver (or a read-only /sys/fs/cgroup, as under the unit's
 * `ProtectControlGroups=`) builds stay in Docker's cgroup and `note` says so.
 */

/** The builds' parent cgroup, under the root of each hierarchy. */
export const BUILD_CGROUP = "mypaas-builds";

/** Where builds run, and a line for the log saying so. */
export interface BuildCgroup {
  /** The `cgroupparent` of the builds (null: Docker's own). */
  parent: string | null;
  note: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes `value` to `path`, or accepts a file that already holds it (a
 * read-only /sys/fs/cgroup, as under `ProtectControlGroups=`, with the
 * cgroup made before: by an earlier run or by the operator).
 */
async function setOrHas(path: string, value: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, value);
  } catch (err) {
    const now = await Deno.readTextFile(path).catch(() => "");
    if (now.trim() !== value) throw err;
  }
}

/**
 * Makes `/mypaas-builds` (cgroup v1: in the cpu hierarchy; v2: at the root)
 * with `cpu.idle` 1, else cpu.shares 2 / cpu.weight 1, for Docker's cgroup
 * `driver`; idempotent. Never throws: a parent it cannot make is null.
 */
export async function prepareBuildCgroup(
  driver: string,
  root = "/sys/fs/cgroup",
): Promise<BuildCgroup> {
  const fallback = (why: string): BuildCgroup => ({
    parent: null,
    note:
      `builds run in Docker's cgroup at cpu.shares 2 (they still compete with the daemon at Docker's full weight): ${why}`,
  });
  if (driver !== "cgroupfs") {
    return fallback(
      `Docker's cgroup driver is "${driver}", and only "cgroupfs" takes a parent cgroup of mypaas's own`,
    );
  }
  let dir: string;
  let weight: [string, string];
  if (await exists(`${root}/cpu/cpu.shares`)) {
    dir = `${root}/cpu/${BUILD_CGROUP}`;
    weight = ["cpu.shares", "2"];
  } else if (await exists(`${root}/cgroup.controllers`)) {
    dir = `${root}/${BUILD_CGROUP}`;
    weight = ["cpu.weight", "1"];
  } else {
    return fallback(`no cgroup cpu controller found under ${root}`);
  }
  try {
    await Deno.mkdir(dir, { recursive: true });
    if (await exists(`${dir}/cpu.idle`)) {
      await setOrHas(`${dir}/cpu.idle`, "1");
      return {
        parent: `/${BUILD_CGROUP}`,
        note:
          `builds run in ${dir} with cpu.idle 1: only on CPU that serving leaves idle`,
      };
    }
    if (!(await exists(`${dir}/${weight[0]}`))) {
      return fallback(
        `${dir} has no ${weight[0]} (cpu controller not enabled)`,
      );
    }
    await setOrHas(`${dir}/${weight[0]}`, weight[1]);
    return {
      parent: `/${BUILD_CGROUP}`,
      note: `builds run in ${dir} at ${weight[0]} ${weight[1]}`,
    };
  } catch (err) {
    return fallback(`cannot set up ${dir}: ${(err as Error).message}`);
  }
}
