/**
 * A worker process reports why an isolate stopped as a value (StopCause),
 * and the pool acts on that value (500 vs 502, quarantine), not on the
 * sentence beside it.
 */
import { assert, assertEquals } from "./isolates_assert.ts";
import { call, testPool, until } from "./isolates_helpers.ts";
import { stopCause } from "../lib/isolates/worker_process.ts";

const FAULTY = `export default { fetch(req) {
  const path = new URL(req.url).pathname;
  if (path === "/busy") for (;;) {}
  if (path === "/throw") setTimeout(() => { throw new Error("boom"); }, 0);
  return new Response("ok");
} };`;

Deno.test("an isolate over its CPU budget stops with the cause cpu (500), one with an uncaught error with the cause error", async () => {
  const t = await testPool({ process: { cpuLimitMs: 300 } });
  try {
    const a = await t.artifact(FAULTY);
    assertEquals(await call(t.pool, a), { status: 200, text: "ok" });
    const first = t.pool.isolates(a.key)[0]!;
    assertEquals((await call(t.pool, a, "/busy")).status, 500);
    assertEquals(first.stopCause, "cpu");
    assertEquals(t.pool.restarts(a.key), 1);

    const b = await t.artifact(FAULTY);
    assertEquals((await call(t.pool, b, "/throw")).status, 200);
    const iso = t.pool.isolates(b.key)[0]!;
    assert(await until(() => iso.stopCause !== null), "no stop reported");
    assertEquals(iso.stopCause, "error");
    assertEquals(t.pool.restarts(b.key), 1);
  } finally {
    await t.close();
  }
});

Deno.test("stopCause() reads a cause value; anything else counts as error", () => {
  assertEquals(stopCause("memory"), "memory");
  assertEquals(stopCause("load-timeout"), "load-timeout");
  assertEquals(stopCause("exceeded its CPU budget of 1000 ms"), "error");
  assertEquals(stopCause(undefined), "error");
});
