import { assert, assertEquals } from "./isolates_assert.ts";
import { call, testPool } from "./isolates_helpers.ts";
import { silentLogger } from "../lib/log.ts";

// Grows by 4 MB every 25 ms while /leak runs (a leak the event loop still
// turns for; a synchronous bomb is another matter, see ARCHITECTURE.md).
const LEAKY = `const keep = [];
export default {
  async fetch(req) {
    if (new URL(req.url).pathname === "/leak") {
      for (;;) {
        keep.push(new Array(5e5).fill(keep.length));
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    return new Response("ok " + keep.length);
  },
};`;

Deno.test("an isolate over its memory cap is stopped alone; its neighbour in the same process keeps serving", async () => {
  const warnings: string[] = [];
  const t = await testPool({
    // one process hosts every isolate, so the neighbour shares it
    isolatesPerProcess: 4,
    maxWorkers: 4,
    log: { ...silentLogger, warn: (m: string) => void warnings.push(m) },
  });
  try {
    const leaky = await t.artifact(LEAKY);
    const neighbour = await t.artifact(
      `export default { fetch: () => new Response("neighbour ok") };`,
    );
    const ok = { status: 200, text: "neighbour ok" };
    assertEquals(await call(t.pool, neighbour), ok);
    assertEquals(await call(t.pool, leaky), { status: 200, text: "ok 0" });
    const pid = t.pool.isolates(leaky.key)[0]?.proc.pid;
    assert(pid, "no worker process");
    assertEquals(t.pool.isolates(neighbour.key)[0]?.proc.pid, pid);

    let done = false;
    const leak = call(t.pool, leaky, "/leak").finally(() => done = true);
    let during = 0;
    const deadline = Date.now() + 15_000;
    while (!done && Date.now() < deadline) {
      assertEquals(await call(t.pool, neighbour), ok);
      during++;
      await new Promise((r) => setTimeout(r, 25));
    }
    const r = await leak;
    assertEquals(r.status, 500);
    assert(during >= 3, `neighbour asked only ${during} times meanwhile`);
    assert(
      warnings.some((w) => w.includes("exceeded its memory cap of 64 MiB")),
      `no memory cap reason in ${JSON.stringify(warnings)}`,
    );
    assertEquals(t.pool.restarts(leaky.key), 1);
    // Same process, neighbour still there; the leaky one cold-starts anew.
    assertEquals(await call(t.pool, neighbour), ok);
    assertEquals(t.pool.isolates(neighbour.key)[0]?.proc.pid, pid);
    assertEquals(t.pool.processes().map((p) => p.pid), [pid]);
    assertEquals(await call(t.pool, leaky), { status: 200, text: "ok 0" });
    assertEquals(t.pool.isolates(leaky.key)[0]?.proc.pid, pid);
  } finally {
    await t.close();
  }
});

Deno.test("garbage above the memory cap is collected, not held against the isolate", async () => {
  const t = await testPool();
  try {
    // Each request leaves about 72 MB of garbage; 64 MiB is the cap.
    const churn = await t.artifact(`export default {
      fetch() {
        let junk = [];
        for (let i = 0; i < 18; i++) junk.push(new Array(5e5).fill(i));
        const n = junk.length;
        junk = null;
        return new Response("churned " + n);
      },
    };`);
    for (let i = 0; i < 20; i++) {
      assertEquals(await call(t.pool, churn), {
        status: 200,
        text: "churned 18",
      });
      // let a few pings (every 100 ms here) see the garbage
      if (i % 5 === 0) await new Promise((r) => setTimeout(r, 250));
    }
    assertEquals(t.pool.restarts(churn.key), 0);
  } finally {
    await t.close();
  }
});
