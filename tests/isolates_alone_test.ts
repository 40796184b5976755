/**
 * A deployment whose isolate took its worker process down (a heap bomb that
 * never yields) or left a thread spinning (CPU budget) runs each isolate in
 * a process of its own from then on: its neighbours pay once, not on every
 * repeat (lib/isolates/pool.ts `#alone`).
 */
import { assert, assertEquals } from "./isolates_assert.ts";
import { call, testPool } from "./isolates_helpers.ts";
import { culprits, PoolIsolate } from "../lib/isolates/pool_isolate.ts";
import type { WorkerProcess } from "../lib/isolates/worker_process.ts";

const NEIGHBOUR = `let n = 0;
export default { fetch: () => new Response(String(++n)) };`;

const HOG = `export default { fetch(req) {
  const path = new URL(req.url).pathname;
  if (path === "/heap") { const a = []; for (;;) a.push(new Array(1e5).fill(a.length)); }
  if (path === "/busy") { for (;;) {} }
  return new Response("hog");
} };`;

for (const attack of ["/heap", "/busy"]) {
  Deno.test(`a deployment whose ${attack} hurt its process runs alone from then on; the neighbour survives the repeat`, async () => {
    const t = await testPool({
      isolatesPerProcess: 4,
      minWorkers: 2,
      maxWorkers: 8,
    });
    try {
      const hog = await t.artifact(HOG);
      const neighbour = await t.artifact(NEIGHBOUR);
      assertEquals(await call(t.pool, neighbour), { status: 200, text: "1" });
      assertEquals(await call(t.pool, hog), { status: 200, text: "hog" });
      const procOf = (key: string) => t.pool.isolates(key)[0]?.proc;
      assert(
        procOf(hog.key) === procOf(neighbour.key),
        "both start in one shared process",
      );

      // First time: the shared process goes (heap bomb) or is drained (a
      // spinning thread): the neighbour cold-starts, its count restarts.
      assert((await call(t.pool, hog, attack)).status >= 500);
      assertEquals(await call(t.pool, neighbour), { status: 200, text: "1" });

      // From now on the hog is alone in its process.
      assertEquals(await call(t.pool, hog), { status: 200, text: "hog" });
      const hogProc = procOf(hog.key)!;
      assert(hogProc !== procOf(neighbour.key), "the hog has moved out");
      // nothing else is placed in the hog's process
      assertEquals(
        t.pool.isolates().filter((i) => i.proc === hogProc).length,
        1,
      );

      // The repeat costs the hog alone: the neighbour keeps its state.
      assert((await call(t.pool, hog, attack)).status >= 500);
      assertEquals(await call(t.pool, neighbour), { status: 200, text: "2" });
      assertEquals(await call(t.pool, hog), { status: 200, text: "hog" });
      assertEquals(await call(t.pool, neighbour), { status: 200, text: "3" });
    } finally {
      await t.close();
    }
  });
}

Deno.test("culprits() blames the isolates seen stuck lately, else those with requests in flight, never standbys", () => {
  const proc = {} as WorkerProcess;
  const iso = (id: string, deployment: string | null, over = {}) =>
    Object.assign(new PoolIsolate(id, proc), { deployment, ...over });
  const now = 100_000;
  const bomber = iso("a", "bomb@1", { stuckAt: now - 300, inflight: 1 });
  const busy = iso("b", "busy@1", { inflight: 3 });
  const idle = iso("c", "idle@1");
  const standby = iso("d", null, { stuckAt: now - 100 });
  const ids = (xs: PoolIsolate[]) => xs.map((x) => x.id);
  assertEquals(ids(culprits([bomber, busy, idle, standby], now)), ["a"]);
  // stuck too long ago: fall back to the ones with requests in flight
  assertEquals(ids(culprits([bomber, busy, idle], now + 5000)), ["a", "b"]);
  assertEquals(ids(culprits([idle, standby], now)), []);
});

Deno.test("a worker process reports an isolate stuck in synchronous code before its CPU budget is up", async () => {
  const t = await testPool({ process: { cpuLimitMs: 2000 } });
  try {
    const hog = await t.artifact(HOG);
    assertEquals(await call(t.pool, hog), { status: 200, text: "hog" });
    const iso = t.pool.isolates(hog.key)[0]!;
    assertEquals(iso.stuckAt, 0);
    const spinning = call(t.pool, hog, "/busy");
    const by = Date.now() + 1500;
    while (iso.stuckAt === 0 && Date.now() < by) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert(iso.stuckAt > 0, "no stuck report within 1.5 s");
    assert((await spinning).status >= 500);
  } finally {
    await t.close();
  }
});
