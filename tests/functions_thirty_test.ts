import { assert, assertEquals } from "./isolates_assert.ts";
import { testFunctions, viaHost } from "./functions_helpers.ts";

Deno.test("30 functions under load: total <= max, no 503, the free ratio kept while an isolate is idle, idle isolates stopped", async () => {
  const t = await testFunctions({
    isolates: `min_workers = 4
max_workers = 10
free_pool_ratio = 0.5
idle_timeout = "1s"
isolates_per_process = 4
cluster_cpu_pct_target = 1.0
cluster_memory_pct_target = 1.0`,
  });
  const { pool } = t.platform;
  const violations: string[] = [];
  let samples = 0;
  const sampler = setInterval(() => {
    const s = pool.stats();
    samples++;
    if (s.total > 10) violations.push(`total ${JSON.stringify(s)}`);
    // Standbys beyond the ratio are taken only when every assigned
    // isolate is busy (a request waits only then); a placement with an
    // idle one evicts it first (tests/isolates_placement_test.ts).
    const assigned = pool.isolates().filter((i) => i.deployment !== null);
    const overCap = assigned.length > 5;
    const allBusy = assigned.every((i) => i.inflight > 0);
    if (s.free < (s.free + s.assigned) * 0.5 && !overCap) {
      violations.push(`ratio ${JSON.stringify(s)}`);
    }
    if (overCap && allBusy && s.free === 0 && s.total < 10) {
      violations.push(`no standby with room ${JSON.stringify(s)}`);
    }
  }, 5);
  try {
    const names = Array.from({ length: 30 }, (_, i) => `f${i}`);
    for (const name of names) {
      const r = await t.platform.deploySingleFile(
        name,
        `// mypaas.url=http://${name}.fn.test
let n = 0;
export default { fetch: () => new Response("${name} " + ++n) };`,
        { skipOptimize: true },
        () => {},
      );
      assert(r.ok, r.error);
    }
    // Drive: 240 requests, 8 at a time, spread over the 30 functions (the
    // worst case: nearly every request is a cold start).
    const statuses: number[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < 240) {
        const i = next++;
        const name = names[(i * 7) % 30]!;
        const r = await viaHost(t.platform, `http://${name}.fn.test/`);
        statuses.push(r.status);
        if (r.status === 200) assert(r.text.startsWith(`${name} `), r.text);
      }
    }));
    assertEquals(statuses.filter((s) => s !== 200).length, 0);
    assert(samples > 10, `only ${samples} samples`);
    assertEquals(violations.slice(0, 3), []);
    // Idle shutdown: nothing assigned after the shortened idle_timeout.
    const deadline = Date.now() + 8000;
    while (pool.stats().assigned > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await pool.settled();
    const s = pool.stats();
    assertEquals([s.assigned, s.free], [0, 4]);
    // The first request after the idle shutdown cold-starts and works.
    assertEquals(await viaHost(t.platform, "http://f3.fn.test/"), {
      status: 200,
      text: "f3 1",
    });
  } finally {
    clearInterval(sampler);
    await t.close();
  }
});
