import { contextFiles } from "../lib/docker/mod.ts";
import { assertEquals } from "./_docker_contract.ts";

Deno.test("contextFiles() honours .dockerignore, exceptions and extra patterns", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const d of ["sub/keep", "node_modules"]) {
      await Deno.mkdir(`${dir}/${d}`, { recursive: true });
    }
    await Deno.writeTextFile(`${dir}/Dockerfile`, "FROM x\n");
    await Deno.writeTextFile(
      `${dir}/.dockerignore`,
      "# comment\nnode_modules\n*.log\n!keep.log\nsub/keep\nDockerfile\n",
    );
    for (
      const f of [
        "a.log",
        "keep.log",
        "b.txt",
        "c.txt",
        "sub/x",
        "sub/keep/y",
        "node_modules/z",
      ]
    ) {
      await Deno.writeTextFile(`${dir}/${f}`, f);
    }
    assertEquals(await contextFiles(dir, { extraIgnore: ["b.txt"] }), [
      ".dockerignore",
      "Dockerfile",
      "c.txt",
      "keep.log",
      "sub/x",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("contextFiles() sends everything when there is no .dockerignore", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/d`);
    await Deno.writeTextFile(`${dir}/Dockerfile`, "FROM x\n");
    await Deno.writeTextFile(`${dir}/d/f`, "f");
    assertEquals(await contextFiles(dir), ["Dockerfile", "d/f"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
