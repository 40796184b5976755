/**
 * The metrics history: the sampler turns counters into steps on a fake
 * clock, the store keeps them in fixed-size files that a restart reads
 * back, and `range()` picks the tier that gives about 100 points.
 */
import { assert, assertEquals } from "./_assert.ts";
import { FakeClock } from "./_fake_clock.ts";
import { until } from "./_until.ts";
import {
  bucketOf,
  MetricsRegistry,
  quantile,
} from "../lib/metrics/registry.ts";
import { MetricsSampler } from "../lib/metrics/sampler.ts";
import { MetricsStore, type Tier } from "../lib/metrics/store.ts";

function setup(dir: string, tiers?: Tier[]) {
  const clock = new FakeClock();
  const registry = new MetricsRegistry();
  const store = new MetricsStore(dir, { clock, ...(tiers ? { tiers } : {}) });
  const sampler = new MetricsSampler({ registry, store, clock });
  return { clock, registry, store, sampler };
}

/** `n` answered requests of `target` at `ms` each, `errors` of them 5xx. */
function traffic(
  registry: MetricsRegistry,
  target: string,
  n: number,
  ms: number,
  errors = 0,
) {
  const c = registry.of(target);
  for (let i = 0; i < n; i++) {
    registry.opened(c);
    registry.answered(c, i < errors ? 502 : 200, ms / 1000, 10, 100);
  }
}

Deno.test("quantile() reads p50/p95 from the buckets within a bucket's width", () => {
  const b = new Float64Array(25);
  b[bucketOf(0.004)]! += 90; // (0.0025, 0.005]
  b[bucketOf(0.2)]! += 10; // (0.15, 0.25]
  const p50 = quantile(b, 0.5), p95 = quantile(b, 0.95);
  assert(p50 > 0.0025 && p50 <= 0.005, `p50 ${p50}`);
  assert(p95 > 0.15 && p95 <= 0.25, `p95 ${p95}`);
  assert(Number.isNaN(quantile(new Float64Array(25), 0.5)));
});

Deno.test("a step on the fake clock records rates, error ratio and p95 per target", async () => {
  const dir = await Deno.makeTempDir();
  const { clock, registry, store, sampler } = setup(dir);
  await sampler.start();
  try {
    traffic(registry, "service:web", 100, 20, 5);
    registry.coldStart("function:fn");
    // the sampler's timer fires at the next 10 s boundary
    clock.advance(10_000);
    await until(
      () => store.latest("service:web").requests_per_s !== undefined,
      {
        what: "the first step",
      },
    );
    const web = store.latest("service:web");
    assert(
      web.requests_per_s! > 9 && web.requests_per_s! <= 100,
      `rps ${web.requests_per_s}`,
    );
    assertEquals(Math.round(web.error_ratio! * 100), 5);
    assert(web.p95_ms! > 15 && web.p95_ms! <= 25, `p95 ${web.p95_ms}`);
    assertEquals(web.open_connections, 0);
    assertEquals(store.latest("function:fn").cold_starts, 1);
    assertEquals(store.targets().sort(), ["function:fn", "service:web"]);
  } finally {
    await sampler.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the history survives a restart of the store", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = setup(dir);
    a.store.open();
    for (let i = 0; i < 6; i++) {
      traffic(a.registry, "service:web", 10 * (i + 1), 5);
      a.clock.t += 10_000;
      await a.sampler.sample();
    }
    const before = a.store.range(
      "service:web",
      "requests_per_s",
      a.clock.t - 3600_000,
      a.clock.t,
    );
    assertEquals(before.length, 6);
    a.store.close();
    const b = setup(dir);
    b.clock.t = a.clock.t;
    b.store.open();
    assertEquals(b.store.targets(), ["service:web"]);
    assertEquals(
      b.store.range(
        "service:web",
        "requests_per_s",
        b.clock.t - 3600_000,
        b.clock.t,
      ),
      before,
    );
    assertEquals(
      b.store.latest("service:web").requests_per_s,
      before.at(-1)![1],
    );
    b.store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the files keep their size and the newest slots only", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tiers = [
      { name: "fine", stepMs: 10_000, slots: 10 },
      { name: "coarse", stepMs: 60_000, slots: 10 },
    ];
    const { clock, registry, store, sampler } = setup(dir, tiers);
    store.open();
    const sizes: number[] = [];
    for (let i = 0; i < 40; i++) {
      traffic(registry, "service:web", 10, 5);
      clock.t += 10_000;
      await sampler.sample();
      sizes.push(Deno.statSync(`${dir}/service%3Aweb.fine.bin`).size);
    }
    assertEquals(new Set(sizes).size, 1, "the fine file never grows");
    const fine = store.range(
      "service:web",
      "requests_per_s",
      clock.t - 100_000,
      clock.t,
    );
    assertEquals(fine.length, 10, "only the newest 10 steps are left");
    assert(fine.every(([, v]) => Math.abs(v - 1) < 1e-6), JSON.stringify(fine));
    // a range the fine tier cannot cover comes from the coarse one
    const coarse = store.range(
      "service:web",
      "requests_per_s",
      clock.t - 400_000,
      clock.t,
    );
    assert(coarse.length >= 6 && coarse.length <= 8, `coarse ${coarse.length}`);
    assert(coarse.every(([t]) => t % 60_000 === 0));
    assert(
      coarse.every(([, v]) => Math.abs(v - 1) < 1e-6),
      JSON.stringify(coarse),
    );
    store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("range() takes 10 s steps for an hour and 5 min steps for a week", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { clock, registry, store, sampler } = setup(dir);
    store.open();
    for (let i = 0; i < 720; i++) { // two hours
      traffic(registry, "service:web", 1, 5);
      clock.t += 10_000;
      await sampler.sample();
    }
    const hour = store.range(
      "service:web",
      "requests_per_s",
      clock.t - 3600_000,
      clock.t,
    );
    assert(hour.length >= 359 && hour.length <= 361, `hour ${hour.length}`);
    const week = store.range(
      "service:web",
      "requests_per_s",
      clock.t - 7 * 86400_000,
      clock.t,
    );
    assert(week.length >= 24 && week.length <= 25, `week ${week.length}`);
    assert(week.every(([t]) => t % 300_000 === 0));
    // coarse p95 is that of all its requests, not a mean
    assert(
      store.range("service:web", "p95_ms", clock.t - 7 * 86400_000, clock.t)
        .every(([, v]) => v > 2.5 && v <= 5),
    );
    store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
