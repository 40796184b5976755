/**
 * @module
 * Shared helpers of the end-to-end tests: local base images (there is no
 * registry here), test networks and clean-up by label. Everything goes
 * through the `docker` CLI so that these helpers do not depend on the code
 * under test.
 *
 * - `requireDocker()` throws loudly when the engine does not answer.
 * - `ensureBusyboxImage()` imports `mypaas-test/busybox:1` from the host's
 *   busybox-static, once per machine, safely across parallel test files.
 * - `writeHttpdApp(dir, ...)` writes a Dockerfile app served by busybox httpd.
 * - `createTestNetwork()` / `removeByLabel()` for isolation and clean-up,
 *   `containerIp()` to reach a container on it.
 */

/** The base image every test app builds FROM. */
export const BUSYBOX_IMAGE = "mypaas-test/busybox:1";

/** Label put on every test container, network and image. */
export const TEST_LABEL = "mypaas-test";

const APPLETS = [
  "sh",
  "httpd",
  "echo",
  "cat",
  "sleep",
  "wget",
  "nc",
  "ls",
  "env",
  "mkdir",
  "rm",
  "touch",
  "test",
  "true",
  "false",
  "kill",
  "ps",
  "printf",
  "date",
  "grep",
  "head",
  "tail",
  "id",
];

/** Runs `docker ARGS`, returns stdout; throws with stderr on failure. */
export async function docker(
  args: string[],
  opts: { stdin?: Uint8Array; allowFail?: boolean } = {},
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  const cmd = new Deno.Command("docker", {
    args,
    stdin: opts.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  });
  const child = cmd.spawn();
  if (opts.stdin) {
    const w = child.stdin.getWriter();
    await w.write(opts.stdin);
    await w.close();
  }
  const out = await child.output();
  const res = {
    ok: out.success,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if (!res.ok && !opts.allowFail) {
    throw new Error(`docker ${args.join(" ")} failed: ${res.stderr.trim()}`);
  }
  return res;
}

/** Throws a loud error unless the Docker engine answers. */
export async function requireDocker(): Promise<void> {
  let res;
  try {
    res = await docker(["version", "--format", "{{.Server.Version}}"], {
      allowFail: true,
    });
  } catch (err) {
    throw new Error(
      `DOCKER IS REQUIRED for the e2e tests: the docker CLI cannot run (${
        (err as Error).message
      })`,
    );
  }
  if (!res.ok) {
    throw new Error(
      `DOCKER IS REQUIRED for the e2e tests: the engine does not answer: ${res.stderr.trim()}`,
    );
  }
}

async function imageExists(ref: string): Promise<boolean> {
  return (await docker(["image", "inspect", ref], { allowFail: true })).ok;
}

/**
 * Builds `mypaas-test/busybox:1` unless it exists: a rootfs of the host's
 * static busybox plus applet symlinks, imported with `docker import`. Holds
 * an exclusive file lock while building, so parallel test files build once.
 */
export async function ensureBusyboxImage(): Promise<string> {
  await requireDocker();
  if (await imageExists(BUSYBOX_IMAGE)) return BUSYBOX_IMAGE;
  const lock = await Deno.open("/tmp/mypaas-test-busybox.lock", {
    create: true,
    write: true,
  });
  try {
    await lock.lock(true);
    if (await imageExists(BUSYBOX_IMAGE)) return BUSYBOX_IMAGE;
    const root = await Deno.makeTempDir({ prefix: "mypaas-busybox-" });
    try {
      for (const d of ["bin", "tmp", "www", "etc", "data"]) {
        await Deno.mkdir(`${root}/${d}`, { recursive: true });
      }
      await Deno.chmod(`${root}/tmp`, 0o1777);
      await Deno.copyFile("/bin/busybox", `${root}/bin/busybox`);
      await Deno.chmod(`${root}/bin/busybox`, 0o755);
      for (const a of APPLETS) {
        await Deno.symlink("busybox", `${root}/bin/${a}`);
      }
      await Deno.writeTextFile(
        `${root}/etc/passwd`,
        "root:x:0:0:root:/:/bin/sh\n",
      );
      await Deno.writeTextFile(`${root}/etc/group`, "root:x:0:\n");
      const tar = await new Deno.Command("tar", {
        args: ["-C", root, "-c", "."],
        stdout: "piped",
      }).output();
      if (!tar.success) throw new Error("tar of the busybox rootfs failed");
      await docker([
        "import",
        "--change",
        'CMD ["/bin/sh"]',
        "--change",
        "ENV PATH=/bin",
        "--change",
        `LABEL ${TEST_LABEL}=base`,
        "-",
        BUSYBOX_IMAGE,
      ], { stdin: tar.stdout });
    } finally {
      await Deno.remove(root, { recursive: true });
    }
    return BUSYBOX_IMAGE;
  } finally {
    await lock.unlock().catch(() => {});
    lock.close();
  }
}

/** What `writeHttpdApp` serves. */
export interface HttpdApp {
  /** Body of `/` (index.html). */
  body: string;
  /** Serve `/health` (200) or not (404): a healthcheck that never passes. */
  health?: boolean;
  /** `# mypaas.KEY=VALUE` lines, e.g. `["service=web", "scale=2"]`. */
  comments?: string[];
  /** Extra Dockerfile lines before CMD. */
  extra?: string[];
  /** Port httpd listens on (default 80). */
  port?: number;
}

/**
 * Writes a Dockerfile app into `dir`: busybox httpd serving `www/` with
 * index.html = `body` and, unless `health: false`, a `health` file.
 */
export async function writeHttpdApp(dir: string, app: HttpdApp): Promise<void> {
  await Deno.mkdir(`${dir}/www`, { recursive: true });
  await Deno.writeTextFile(`${dir}/www/index.html`, app.body);
  const health = `${dir}/www/health`;
  if (app.health === false) {
    await Deno.remove(health).catch(() => {});
  } else {
    await Deno.writeTextFile(health, "ok\n");
  }
  const port = app.port ?? 80;
  const lines = [
    `FROM ${BUSYBOX_IMAGE}`,
    ...(app.comments ?? []).map((c) => `# mypaas.${c}`),
    "COPY www /www",
    ...(app.extra ?? []),
    `EXPOSE ${port}`,
    `CMD ["httpd", "-f", "-p", "${port}", "-h", "/www"]`,
    "",
  ];
  await Deno.writeTextFile(`${dir}/Dockerfile`, lines.join("\n"));
}

/** A unique name for this test run: `prefix-<random>` (lower case). */
export function uniqueName(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Creates a uniquely named bridge network; `remove()` deletes it. */
export async function createTestNetwork(
  prefix = "mypaas-test",
): Promise<{ name: string; remove(): Promise<void> }> {
  const name = uniqueName(prefix);
  await docker(["network", "create", "--label", `${TEST_LABEL}=1`, name]);
  return {
    name,
    remove: async () => {
      await docker(["network", "rm", name], { allowFail: true });
    },
  };
}

/** The IP address of container `id` on `network`. */
export async function containerIp(
  id: string,
  network: string,
): Promise<string> {
  return (await docker([
    "inspect",
    "-f",
    `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`,
    id,
  ])).stdout.trim();
}

/** Force-removes every container carrying `label` (`key` or `key=value`). */
export async function removeByLabel(label: string): Promise<void> {
  const ids = (await docker(["ps", "-aq", "--filter", `label=${label}`]))
    .stdout.split("\n").filter(Boolean);
  if (ids.length) await docker(["rm", "-f", ...ids], { allowFail: true });
}

/** Removes every image of `repo` (all tags). */
export async function removeImages(repo: string): Promise<void> {
  const refs = (await docker([
    "images",
    "--format",
    "{{.Repository}}:{{.Tag}}",
    repo,
  ])).stdout.split("\n").filter(Boolean);
  if (refs.length) await docker(["rmi", "-f", ...refs], { allowFail: true });
}

/** GETs `url` with a timeout; returns status and body, or null on error. */
export async function tryGet(
  url: string,
  timeoutMs = 1000,
): Promise<{ status: number; body: string } | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch {
    return null;
  }
}

/**
 * GETs `path` from 127.0.0.1:`port` with a `Host` header (fetch does not let
 * one set it): raw HTTP/1.1 over a TCP connection, `Connection: close`.
 */
export async function getWithHost(
  port: number,
  host: string,
  path = "/",
  timeoutMs = 2000,
): Promise<{ status: number; body: string } | null> {
  let conn: Deno.TcpConn | undefined;
  const timer = setTimeout(() => conn?.close(), timeoutMs);
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      ),
    );
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(16384);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const text = new TextDecoder().decode(
      new Uint8Array(chunks.flatMap((c) => [...c])),
    );
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
    const body = text.slice(text.indexOf("\r\n\r\n") + 4);
    return status ? { status, body } : null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch { /* closed by the timer */ }
  }
}
