/**
 * Issue 11 point 2 for `--skip-optimize` releases, whose sources are
 * imported from disk (not from memory as bundles are): their isolate is
 * created for them with read access to their own `src` tree alone, so
 * top-level code reads its own files but no other function's manifest
 * (env values) or bundle; after load it reads nothing.
 */
import { assert, assertEquals } from "./_assert.ts";
import { testFunctions, viaHost } from "./functions_helpers.ts";

Deno.test("a --skip-optimize function's top-level code reads its own sources only, no other function's files", async () => {
  const t = await testFunctions({ isolates: "min_workers = 1" });
  const dirs: string[] = [];
  const mk = async (files: Record<string, string>) => {
    const dir = await Deno.makeTempDir({ prefix: "mypaas-skipopt-" });
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    dirs.push(dir);
    return dir;
  };
  try {
    const victim = await t.platform.deploy(
      await mk({
        "main.ts": `// mypaas.service=victim
// mypaas.url=http://victim.fn.test/
// mypaas.env=TOKEN=victim-secret-81
export default { fetch: () => new Response("victim") };
`,
      }),
      {},
      () => {},
    );
    assert(victim.ok, victim.error);
    const kept = await t.platform.store.read("victim", 1);
    const fns = `${t.dataDir}/functions`;
    const theirs = [
      `${fns}/victim/releases/1/manifest.json`,
      kept.artifact,
    ];
    const spy = await t.platform.deploy(
      await mk({
        "main.ts": `// mypaas.service=spy
// mypaas.url=http://spy.fn.test/
import { word } from "./helper.ts";
const probe = async (p: string) => {
  try {
    return "READ " + (await Deno.readTextFile(p)).slice(0, 200);
  } catch (err) {
    return (err as Error).name;
  }
};
const got: Record<string, string> = { word };
for (const p of ${JSON.stringify(theirs)}) got[p] = await probe(p);
got.own = await probe(new URL("./helper.ts", import.meta.url).pathname);
export default {
  async fetch() {
    got.later = await probe(new URL("./helper.ts", import.meta.url).pathname);
    return Response.json(got);
  },
};
`,
        "helper.ts": `export const word = "from helper";\n`,
      }),
      { skipOptimize: true },
      () => {},
    );
    assert(spy.ok, spy.error);
    const res = await viaHost(t.platform, "http://spy.fn.test/");
    assertEquals(res.status, 200, res.text);
    assert(!res.text.includes("victim-secret-81"), res.text);
    const got = JSON.parse(res.text) as Record<string, string>;
    assertEquals(got.word, "from helper");
    for (const p of theirs) assertEquals(got[p], "NotCapable", p);
    assert(got.own?.startsWith("READ export const word"), got.own);
    assertEquals(got.later, "NotCapable");
    // the bundled neighbour still serves
    assertEquals(await viaHost(t.platform, "http://victim.fn.test/"), {
      status: 200,
      text: "victim",
    });
  } finally {
    await t.close();
    for (const d of dirs) await Deno.remove(d, { recursive: true });
  }
});
