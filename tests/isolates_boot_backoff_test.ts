/**
 * Failed isolate boots back off on the pool's clock and are logged at most
 * once a minute with a count (a worker binary that always fails stands in
 * for a broken host).
 */
import { makeLogger } from "../lib/log.ts";
import { FakeClock } from "./_fake_clock.ts";
import { assert, assertEquals } from "./isolates_assert.ts";
import { call, testPool, until } from "./isolates_helpers.ts";

const COUNTER =
  `let n = 0; export default { fetch: () => new Response(String(++n)) };`;

Deno.test("IsolatePool backs failed boots off (100 ms doubling to 30 s), logs them once a minute with a count, and boots again once it can", async () => {
  const bin = await Deno.makeTempDir({ prefix: "mypaas-boot-fail-" });
  const fake = `${bin}/deno`;
  await Deno.writeTextFile(
    fake,
    `#!/bin/sh\necho boot >> ${bin}/attempts\nexit 1\n`,
  );
  await Deno.chmod(fake, 0o755);
  const attempts = async () =>
    (await Deno.readTextFile(`${bin}/attempts`)).split("\n").filter(Boolean)
      .length;
  const clock = new FakeClock();
  const lines: string[] = [];
  const t = await testPool({
    minWorkers: 1,
    maxWorkers: 2,
    queueTimeoutMs: 500,
    clock,
    log: makeLogger("pool", "info", (l) => lines.push(l)),
    process: { denoPath: fake },
  });
  const failedLines = () => lines.filter((l) => l.includes("boot failed"));
  try {
    assertEquals(await attempts(), 1);
    assertEquals(clock.pending, 1);
    // A request waits its 500 ms for an isolate: no boot meanwhile.
    const target = await t.artifact(COUNTER);
    assertEquals((await call(t.pool, target)).status, 503);
    assertEquals(await attempts(), 1);

    // Each wait doubles (+-10% jitter) up to 30 s; one boot per wait.
    for (let i = 0; i < 11; i++) {
      const want = Math.min(100 * 2 ** i, 30_000);
      const waited = clock.runNext()!;
      assert(
        waited >= want * 0.9 && waited <= want * 1.1,
        `wait ${i + 1}: ${waited} ms, want ${want} +-10%`,
      );
      assert(await until(() => clock.pending === 1), `boot ${i + 2} failed`);
      assertEquals(await attempts(), i + 2);
    }
    // 12 failures over about 111 s: the first line at once, one more after
    // a minute that counts the ones in between.
    const failed = failedLines();
    assertEquals(failed.length, 2);
    assert(/\(10 failures in \d+s, 11 in a row\)/.test(failed[1]!), failed[1]);

    // The worker binary is back: the next boot works and says so.
    t.pool.options.process.denoPath = Deno.execPath();
    clock.runNext();
    await t.pool.settled();
    assertEquals(t.pool.stats().free, 1);
    assert(
      lines.some((l) => l.includes("isolate boots work again after 12 ")),
      lines.join("\n"),
    );
    assertEquals(await call(t.pool, target), { status: 200, text: "1" });
  } finally {
    await t.close();
    await Deno.remove(bin, { recursive: true });
  }
});

Deno.test("IsolatePool replaces worker processes that crash hosting no deployment after a growing backoff, logged once (no crash loop)", async () => {
  const clock = new FakeClock();
  const lines: string[] = [];
  const t = await testPool({
    minWorkers: 1,
    maxWorkers: 2,
    clock,
    log: makeLogger("pool", "info", (l) => lines.push(l)),
  });
  try {
    // each replacement boots fine and crashes again: the waits still double
    for (const want of [100, 200, 400]) {
      assertEquals(t.pool.stats().free, 1);
      const [proc] = t.pool.processes();
      proc!.kill();
      assert(await until(() => clock.pending === 1), lines.join("\n"));
      assertEquals(t.pool.stats().total, 0);
      const waited = clock.runNext()!;
      assert(
        waited >= want * 0.9 && waited <= want * 1.1,
        `waited ${waited} ms, want ${want}`,
      );
      await t.pool.settled();
    }
    assertEquals(t.pool.stats().free, 1);
    const crashes = lines.filter((l) => l.includes("hosting no deployment"));
    assertEquals(crashes.length, 1);
  } finally {
    await t.close();
  }
});
