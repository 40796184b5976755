/** lib/deadlines.ts: per-request time limits on one shared interval. */
import { assert, assertEquals } from "./_assert.ts";
import { Deadlines } from "../lib/deadlines.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("Deadlines fires an entry after its time, at most a tick late", async () => {
  const d = new Deadlines(10);
  const t0 = Date.now();
  const fired = Promise.withResolvers<number>();
  d.add(40, () => fired.resolve(Date.now() - t0));
  const took = await fired.promise;
  assert(took >= 40, `fired early: ${took} ms`);
  assertEquals(d.size, 0);
});

Deno.test("Deadlines: a cleared entry never fires; the others still do", async () => {
  const d = new Deadlines(10);
  const fired: string[] = [];
  const a = d.add(20, () => fired.push("a"));
  d.add(30, () => fired.push("b"));
  a.clear();
  const t0 = Date.now();
  while (fired.length === 0 && Date.now() - t0 < 2000) await sleep(10);
  await sleep(40);
  assertEquals(fired, ["b"]);
});

Deno.test("Deadlines stops its interval when nothing is pending (no leaked timer)", async () => {
  // Deno's test sanitizer fails this test if an interval is left running.
  const d = new Deadlines(5);
  const done = Promise.withResolvers<void>();
  d.add(10, () => done.resolve());
  await done.promise;
  d.add(1000, () => {}).clear();
  d.clear();
  assertEquals(d.size, 0);
});
