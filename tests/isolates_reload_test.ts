/**
 * IsolatePool.reload(): the `[isolates]` settings a config reload applies
 * reach the running pool (real worker processes).
 */
import { makeLogger } from "../lib/log.ts";
import { assert, assertEquals } from "./isolates_assert.ts";
import { call, testPool, until } from "./isolates_helpers.ts";

const COUNTER =
  `let n = 0; export default { fetch: () => new Response(String(++n)) };`;

Deno.test("IsolatePool.reload() applies the free ratio, idle timeout, wall limit and host targets to the running pool", async () => {
  const lines: string[] = [];
  const t = await testPool({
    minWorkers: 1,
    maxWorkers: 6,
    freePoolRatio: 0.5,
    idleTimeoutMs: 3_600_000,
    isolatesPerProcess: 8,
    cpuPctTarget: 0.9,
    hostLoad: () => ({ cpu: 0.7, mem: 0.1 }),
    log: makeLogger("pool", "info", (l) => lines.push(l)),
  });
  const settings = {
    freePoolRatio: 0.5,
    idleTimeoutMs: 3_600_000,
    cpuPctTarget: 0.9,
    memPctTarget: 1.1,
    wallLimitMs: 10_000,
    queueTimeoutMs: 3000,
  };
  try {
    const a = await t.artifact(COUNTER);
    assertEquals((await call(t.pool, a)).status, 200);
    await t.pool.settled();
    assertEquals(t.pool.stats().assigned, 1);
    assertEquals(t.pool.stats().free, 1);

    // free >= (free + assigned) x 0.75 with one assigned: 3 standbys
    t.pool.reload({ ...settings, freePoolRatio: 0.75 });
    assert(
      await until(() => t.pool.stats().free === 3),
      JSON.stringify(t.pool.stats()),
    );

    // a wall limit far below the handler's 3 s: 504
    const slow = await t.artifact(
      `export default { fetch: async () => {
        await new Promise((r) => setTimeout(r, 3000));
        return new Response("late");
      } };`,
    );
    t.pool.reload({ ...settings, freePoolRatio: 0.75, wallLimitMs: 200 });
    assertEquals((await call(t.pool, slow)).status, 504);

    // the host (0.7) is above the new CPU target
    t.pool.reload({ ...settings, cpuPctTarget: 0.5 });
    assert(
      await until(() => lines.some((l) => l.includes("above its CPU/memory"))),
      lines.join("\n"),
    );

    // the idle timeout, from one hour to 100 ms: the isolate goes
    t.pool.reload({ ...settings, idleTimeoutMs: 100 });
    assert(
      await until(() => t.pool.stats().assigned === 0),
      JSON.stringify(t.pool.stats()),
    );
  } finally {
    await t.close();
  }
});
