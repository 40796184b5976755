import { assert, assertEquals } from "./isolates_assert.ts";
import { fixtureCopy, testFunctions, viaHost } from "./functions_helpers.ts";
import { raw, startProxy } from "./_proxy_helpers.ts";

Deno.test("function deploy bundles, answers at its domain through the proxy, rolls back and is removed", async () => {
  const proxy = await startProxy();
  const t = await testFunctions({ routes: proxy.router });
  const dir = await fixtureCopy("hello");
  try {
    const lines: string[] = [];
    const r1 = await t.platform.deploy(dir, {}, (l) => lines.push(l));
    assertEquals([r1.ok, r1.service, r1.release], [true, "hello", 1]);
    assert(lines.some((l) => l.startsWith("bundle ")), lines.join("\n"));
    const manifest = await t.platform.store.read("hello", 1);
    assert(manifest.optimized);
    assert(manifest.artifact.includes("/functions/bundles/"));
    assert(manifest.artifact.endsWith(`${manifest.sha256}.js`));

    const get = (headers: Record<string, string> = {}, path = "/x") =>
      raw(proxy.port, { host: "hello.fn.test", path, headers });
    let res = await get();
    assertEquals([res.status, res.body], [200, "hello from v1 1 /x"]);

    await Deno.writeTextFile(
      `${dir}/greet.ts`,
      (await Deno.readTextFile(`${dir}/greet.ts`)).replace('"v1"', '"v2"'),
    );
    const r2 = await t.platform.deploy(dir, {}, () => {});
    assertEquals(r2.release, 2);
    res = await get();
    assertEquals([res.status, res.body], [200, "hello from v2 1 /x"]);

    // x-deno-deploy-id picks a deployment (or an exact release) by itself.
    assertEquals(
      await viaHost(t.platform, "http://elsewhere.test/y", {
        "x-deno-deploy-id": "hello@1",
      }),
      { status: 200, text: "hello from v1 1 /y" },
    );

    // deno_isolate_instance_id pins a dedicated isolate (its own counter).
    const pinned = (id: string) =>
      viaHost(
        t.platform,
        `http://hello.fn.test/p?deno_isolate_instance_id=${id}`,
      );
    assertEquals((await pinned("a")).text, "hello from v2 1 /p");
    assertEquals((await pinned("a")).text, "hello from v2 2 /p");
    assertEquals((await pinned("b")).text, "hello from v2 1 /p");

    const back = await t.platform.rollback("hello", undefined, () => {});
    assertEquals(back.release, 1);
    res = await get();
    assert(res.body.startsWith("hello from v1"), res.body);

    const logs = [];
    for await (const l of t.platform.logs("hello", { follow: false })) {
      logs.push(l);
    }
    assert(logs.some((l) => l.includes("hello loaded")), logs.join("\n"));
    assert(logs[0]!.includes("hello@"), logs[0]);
    await t.platform.logStore.flushed();
    const file = await Deno.readTextFile(
      `${t.dataDir}/logs/functions/hello.log`,
    );
    assert(file.includes("hello loaded"), file);

    await t.platform.remove("hello");
    res = await get();
    assertEquals(res.status, 404);
    assertEquals(await t.platform.store.names(), []);
  } finally {
    await t.close();
    await proxy.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("function state is rebuilt from the release files at start-up", async () => {
  const t = await testFunctions();
  const dir = await fixtureCopy("serve_style");
  try {
    const r = await t.platform.deploy(dir, {
      domains: ["serve.fn.test"],
      skipOptimize: true,
    }, () => {});
    assert(r.ok, r.error);
    const m = await t.platform.store.read(r.service, 1);
    assertEquals(m.optimized, false);
    assert(m.artifact.endsWith("/releases/1/src/main.ts"), m.artifact);
    await t.stop();
    const again = await testFunctions({ dataDir: t.dataDir });
    try {
      assertEquals(
        await viaHost(again.platform, "https://serve.fn.test/?q=1"),
        { status: 200, text: "served GET ?q=1" },
      );
      const list = await again.platform.list();
      assertEquals(list.map((s) => [s.service, s.release]), [[r.service, 1]]);
    } finally {
      await again.stop();
    }
  } finally {
    await Deno.remove(t.dataDir, { recursive: true });
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deploySingleFile deploys one file; a broken one fails and changes nothing", async () => {
  const t = await testFunctions();
  try {
    const ok = await t.platform.deploySingleFile(
      "single",
      `// mypaas.url=http://single.fn.test
export default { fetch: () => new Response("single " + Deno.env.get("K")) };`,
      { env: ["K=v"] },
      () => {},
    );
    assertEquals([ok.ok, ok.release], [true, 1]);
    assertEquals(await viaHost(t.platform, "http://single.fn.test/"), {
      status: 200,
      text: "single v",
    });
    const bad = await t.platform.deploySingleFile(
      "single",
      `export const nothing = 1;`,
      {},
      () => {},
    );
    assertEquals(bad.ok, false);
    assert(bad.error!.includes("failed to load"), bad.error);
    assertEquals(await viaHost(t.platform, "http://single.fn.test/"), {
      status: 200,
      text: "single v",
    });
    assertEquals(await t.platform.store.releases("single"), [1]);
  } finally {
    await t.close();
  }
});
