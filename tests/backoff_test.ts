import assert from "node:assert/strict";
import { Backoff, backoffDelay, RepeatLog } from "../lib/backoff.ts";
import { sleep } from "../lib/clock.ts";
import { FakeClock } from "./_fake_clock.ts";

Deno.test("backoffDelay() doubles from base up to max, spread by the jitter", () => {
  const mid = () => 0.5; // no spread
  const opts = { baseMs: 100, maxMs: 1000 };
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 60].map((n) => backoffDelay(n, opts, mid)),
    [0, 100, 200, 400, 800, 1000, 1000],
  );
  assert.equal(backoffDelay(1, opts, () => 0), 90);
  assert.equal(backoffDelay(1, opts, () => 1), 110);
  assert.equal(backoffDelay(9, opts, () => 1), 1000); // never above max
  const b = new Backoff(opts, mid);
  assert.deepEqual([b.fail(), b.fail(), b.failures], [100, 200, 2]);
  b.reset();
  assert.equal(b.fail(), 100);
});

Deno.test("RepeatLog writes the first failure, then one line a minute with the count, and starts afresh after ok()", () => {
  const clock = new FakeClock();
  const lines: string[] = [];
  const log = new RepeatLog((m) => lines.push(m), { clock });
  for (let i = 0; i < 600; i++) { // ten a second for a minute
    log.fail("engine down");
    clock.advance(100);
  }
  log.fail("engine down");
  assert.deepEqual(lines, [
    "engine down",
    "engine down (600 failures in 60s, 601 in a row)",
  ]);
  assert.equal(log.ok(), 601);
  assert.equal(log.ok(), 0);
  log.fail("engine down");
  assert.equal(lines.at(-1), "engine down");
});

Deno.test("sleep() on a clock ends when the clock moves or the signal aborts", async () => {
  const clock = new FakeClock();
  const slept = sleep(1000, { clock });
  assert.equal(clock.pending, 1);
  clock.advance(1000);
  await slept;
  const ctl = new AbortController();
  const cut = sleep(1000, { clock, signal: ctl.signal });
  ctl.abort();
  await cut;
  assert.equal(clock.pending, 0);
});
