/**
 * The builds' parent cgroup (issue 25.1) on a fake /sys/fs/cgroup tree: idle
 * where the kernel has cpu.idle, else the lowest weight (v1 and v2); no
 * parent with Docker's systemd driver or where the tree cannot be written;
 * and `cgroupparent` on the /build query only when there is one.
 */
import {
  BUILD_CGROUP,
  prepareBuildCgroup,
} from "../lib/services/build_cgroup.ts";
import { buildLimits } from "../lib/services/build.ts";
import { buildLimitParams } from "../lib/docker/docker_runtime.ts";
import { assert, assertEquals } from "./_docker_contract.ts";

async function tree(files: string[]): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "mypaas-cgroup-" });
  for (const f of files) {
    const path = `${root}/${f}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, "0\n");
  }
  return root;
}

Deno.test("cgroup v1 with cpu.idle: the builds' parent is idle", async () => {
  const root = await tree(["cpu/cpu.shares", `cpu/${BUILD_CGROUP}/cpu.idle`]);
  try {
    const cg = await prepareBuildCgroup("cgroupfs", root);
    assertEquals(cg.parent, `/${BUILD_CGROUP}`);
    assertEquals(
      await Deno.readTextFile(`${root}/cpu/${BUILD_CGROUP}/cpu.idle`),
      "1",
    );
    assert(cg.note.includes("cpu.idle 1"), cg.note);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("without cpu.idle: cpu.shares 2 (v1), cpu.weight 1 (v2)", async () => {
  for (
    const [files, file, value] of [
      [
        ["cpu/cpu.shares", `cpu/${BUILD_CGROUP}/cpu.shares`],
        `cpu/${BUILD_CGROUP}/cpu.shares`,
        "2",
      ],
      [
        ["cgroup.controllers", `${BUILD_CGROUP}/cpu.weight`],
        `${BUILD_CGROUP}/cpu.weight`,
        "1",
      ],
    ] as const
  ) {
    const root = await tree([...files]);
    try {
      const cg = await prepareBuildCgroup("cgroupfs", root);
      assertEquals(cg.parent, `/${BUILD_CGROUP}`);
      assertEquals(await Deno.readTextFile(`${root}/${file}`), value);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  }
});

Deno.test("no parent with the systemd driver, a read-only tree or no cpu controller; the note says why", async () => {
  const root = await tree(["cpu/cpu.shares"]);
  try {
    const sd = await prepareBuildCgroup("systemd", root);
    assertEquals(sd.parent, null);
    assert(sd.note.includes('driver is "systemd"'), sd.note);
    await Deno.chmod(`${root}/cpu`, 0o555);
    const ro = await prepareBuildCgroup("cgroupfs", root);
    // root may write anyway; then there is no cpu.idle nor cpu.shares inside
    assertEquals(ro.parent, null);
    assert(ro.note.includes(`${root}/cpu/${BUILD_CGROUP}`), ro.note);
    const none = await prepareBuildCgroup("cgroupfs", `${root}/nothing`);
    assertEquals(none.parent, null);
    assert(none.note.includes("no cgroup cpu controller"), none.note);
  } finally {
    await Deno.chmod(`${root}/cpu`, 0o755);
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the /build query carries cgroupparent only when there is a parent", () => {
  const docker = { buildCpus: 1, buildMemory: 64 << 20 };
  assertEquals(
    buildLimitParams(buildLimits(docker, 2)).cgroupparent,
    undefined,
  );
  assertEquals(
    buildLimitParams(buildLimits(docker, 2, `/${BUILD_CGROUP}`)),
    {
      cpushares: 2,
      cpuperiod: 100_000,
      cpuquota: 100_000,
      memory: 64 << 20,
      memswap: 64 << 20,
      cgroupparent: `/${BUILD_CGROUP}`,
    },
  );
});
