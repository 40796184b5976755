import { assert, assertEquals } from "./isolates_assert.ts";
import { fixtureCopy, testFunctions, viaHost } from "./functions_helpers.ts";

Deno.test("a function with an npm import is bundled into one artifact and runs with imports denied", async () => {
  const t = await testFunctions({});
  const dir = await fixtureCopy("npm_import");
  try {
    const lines: string[] = [];
    const r = await t.platform.deploy(dir, {}, (l) => lines.push(l));
    assert(r.ok, `${r.error}\n${lines.join("\n")}`);
    const manifest = await t.platform.store.read(r.service, r.release!);
    assert(manifest.optimized);
    const artifact = await Deno.readTextFile(manifest.artifact);
    assert(!artifact.includes("npm:smol-toml"), "the npm import was inlined");
    assertEquals(await viaHost(t.platform, "http://npm.fn.test/"), {
      status: 200,
      text: "toml 42",
    });
  } finally {
    await t.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
