/**
 * A deployment whose isolate took its worker process down (a heap bomb that
 * never yields) or left a thread spinning (CPU budget) runs each isolate in
 * a process of its own from then on: its neighbours pay once, not on every
 * repeat (lib/isolates/pool.ts `#alone`).
 */
import { assert, assertEquals } from "./isolates_assert.ts";
import { call, testPool, until } from "./isolates_helpers.ts";
import { PoolIsolate } from "../lib/isolates/pool_isolate.ts";
import { culprits } from "../lib/isolates/pool_quarantine.ts";
import type { WorkerProcess } from "../lib/isolates/worker_process.ts";

const NEIGHBOUR = `let n = 0;
export default { fetch: () => new Response(String(++n)) };`;

// Both hogs log as they go: a log line is no sign of life (it can be posted
// from inside the loop), so neither may pass for an isolate answering pings.
const HOG = `export default { fetch(req) {
  const path = new URL(req.url).pathname;
  if (path === "/heap") {
    const a = [];
    for (;;) { a.push(new Array(1e5).fill(a.length)); if (a.length % 50 === 0) console.log(a.length); }
  }
  if (path === "/busy") { for (let i = 0;; i++) if (i % 1e7 === 0) console.log(i); }
  if (path === "/sync") { const end = Date.now() + 600; while (Date.now() < end); }
  return new Response("hog");
} };`;

for (const attack of ["/heap", "/busy"]) {
  Deno.test(`a deployment whose ${attack} hurt its process runs alone from then on; the neighbour survives the repeat`, async () => {
    const t = await testPool({
      isolatesPerProcess: 4,
      minWorkers: 2,
      maxWorkers: 8,
      // the heap bomb must reach V8's limit before its CPU budget runs out,
      // even on a loaded host
      process: { cpuLimitMs: attack === "/heap" ? 5000 : 500 },
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
      const t0 = Date.now();
      const first = await call(t.pool, hog, attack);
      // a CPU kill (500) or the process's crash (502), never the 10 s wall
      // limit (504)
      assertEquals(first.status, attack === "/busy" ? 500 : 502);
      assert(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
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

Deno.test("culprits() blames the isolates stuck when the process died, else those with requests in flight, never standbys", () => {
  const proc = {} as WorkerProcess;
  const iso = (id: string, deployment: string | null, over = {}) =>
    Object.assign(new PoolIsolate(id, proc), { deployment, ...over });
  const bomber = iso("a", "bomb@1", { stuckAt: 99_700, inflight: 1 });
  const busy = iso("b", "busy@1", { inflight: 3 });
  const idle = iso("c", "idle@1");
  const standby = iso("d", null, { stuckAt: 99_900 });
  const ids = (xs: PoolIsolate[]) => xs.map((x) => x.id);
  assertEquals(ids(culprits([bomber, busy, idle, standby])), ["a"]);
  // answered again since (unstuck): fall back to those with requests in flight
  bomber.stuckAt = 0;
  assertEquals(ids(culprits([bomber, busy, idle])), ["a", "b"]);
  assertEquals(ids(culprits([idle, standby])), []);
});

Deno.test("a worker process reports an isolate stuck in synchronous code before its CPU budget is up, and when it answers again", async () => {
  const t = await testPool({ process: { cpuLimitMs: 2000 } });
  try {
    const hog = await t.artifact(HOG);
    assertEquals(await call(t.pool, hog), { status: 200, text: "hog" });
    const iso = t.pool.isolates(hog.key)[0]!;
    assertEquals(iso.stuckAt, 0);
    let seen = 0;
    const watching = until(() => (seen = iso.stuckAt) > 0, 3000);
    // 600 ms of synchronous work, then an answer
    assertEquals((await call(t.pool, hog, "/sync")).status, 200);
    await watching;
    assert(seen > 0, "not reported stuck during 600 ms of synchronous code");
    await until(() => iso.stuckAt === 0, 2000);
    assert(iso.stuckAt === 0, "not cleared once it answered again");
  } finally {
    await t.close();
  }
});

Deno.test("a heap bomb that logs is blamed, not a neighbour with a slow request in flight", async () => {
  // A bigger heap: the bomb runs for a while (several pings) before it
  // reaches V8's limit, as a real one with the default 128 MiB cap does.
  // A crash faster than one ping blames every isolate with a request in
  // flight (culprits()), the neighbour too.
  const t = await testPool({
    isolatesPerProcess: 4,
    minWorkers: 2,
    process: { cpuLimitMs: 60_000, memoryLimit: 256 * 2 ** 20 },
  });
  try {
    const hog = await t.artifact(HOG);
    const slow = await t.artifact(
      `export default { fetch: async () => {
        console.log("slow request started");
        // longer than the bomb needs on a loaded host, by far
        await new Promise((r) => setTimeout(r, 20000));
        return new Response("slow");
      } };`,
    );
    assertEquals(await call(t.pool, hog), { status: 200, text: "hog" });
    const waiting = call(t.pool, slow);
    // the request is inside the isolate (one not sent yet would rightly be
    // retried elsewhere when the process dies)
    const started = () =>
      t.logs.filter((l) => l.msg === "slow request started").length;
    await until(() => started() === 1);
    const slowIso = t.pool.isolates(slow.key)[0]!;
    assert(slowIso.proc === t.pool.isolates(hog.key)[0]!.proc, "shared");
    assertEquals((await call(t.pool, hog, "/heap")).status, 502);
    // the slow request died with the process
    assertEquals((await waiting).status, 502);
    assertEquals(await call(t.pool, hog), { status: 200, text: "hog" });
    assert(t.pool.isolates(hog.key)[0]!.alone, "the bomber runs alone");
    // the neighbour's next isolate is a shared one
    const again = call(t.pool, slow).catch(() => null);
    await until(() => started() === 2);
    const next = t.pool.isolates(slow.key)[0];
    assert(next && !next.alone, "the neighbour is not moved");
    await t.close();
    await again;
  } finally {
    await t.close();
  }
});

Deno.test("isolates booting alone count as assigned: a burst of quarantined releases stays within max_workers", async () => {
  const t = await testPool({
    isolatesPerProcess: 4,
    minWorkers: 1,
    maxWorkers: 4, // 2 may be assigned with a free ratio of 0.5
    queueTimeoutMs: 1500,
  });
  try {
    const hogs = [];
    for (let i = 0; i < 3; i++) {
      const hog = await t.artifact(HOG);
      assertEquals((await call(t.pool, hog, "/busy")).status, 500);
      hogs.push(hog);
    }
    let maxTotal = 0, maxAssignedSeen = 0, stop = false;
    const watch = (async () => {
      while (!stop) {
        const s = t.pool.stats();
        maxTotal = Math.max(maxTotal, s.total);
        maxAssignedSeen = Math.max(maxAssignedSeen, s.assigned);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const results = await Promise.all(hogs.map((h) => call(t.pool, h)));
    stop = true;
    await watch;
    const served = results.filter((r) => r.status === 200).length;
    assert(served >= 1, JSON.stringify(results));
    assert(maxAssignedSeen <= 2, `assigned reached ${maxAssignedSeen}`);
    assert(maxTotal <= 4, `total reached ${maxTotal}`);
    // those not served got 503 after the queue timeout, not a new process
    for (const r of results) assert([200, 503].includes(r.status));
  } finally {
    await t.close();
  }
});
