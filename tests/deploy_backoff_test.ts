/**
 * With the Docker engine down, the liveness monitor and the container event
 * watch back off on an injected clock and log at most once a minute with a
 * count (before: a warning on every 100 ms liveness tick).
 */
import {
  ContainerEvents,
  Deployer,
  LivenessMonitor,
} from "../lib/services/mod.ts";
import { FakeRuntime } from "../lib/docker/mod.ts";
import { makeLogger } from "../lib/log.ts";
import { assert, assertEquals } from "./_docker_contract.ts";
import { fakeProbe, RecordingTraffic, testConfig } from "./_deploy_fixture.ts";
import { FakeClock } from "./_fake_clock.ts";
import { until } from "./isolates_helpers.ts";

const TEN_MINUTES = 600_000;

async function engineDown() {
  const dataDir = await Deno.makeTempDir({ prefix: "mypaas-backoff-" });
  const config = testConfig(dataDir);
  const runtime = new FakeRuntime();
  runtime.down = true;
  const lines: string[] = [];
  const deployer = new Deployer({
    runtime,
    config,
    traffic: new RecordingTraffic(),
    probe: fakeProbe(runtime),
    log: makeLogger("t", "info", (l) => lines.push(l)),
    owner: config.docker.network,
    readyTimeoutMs: 300,
  });
  return {
    runtime,
    deployer,
    lines,
    clock: new FakeClock(),
    [Symbol.asyncDispose]: () => Deno.remove(dataDir, { recursive: true }),
  };
}

/** Fires the clock's timers for `ms` of virtual time; the waits between them. */
async function runFor(clock: FakeClock, ms: number): Promise<number[]> {
  const waits: number[] = [];
  let elapsed = 0;
  while (elapsed < ms) {
    const waited = clock.runNext();
    assert(waited !== undefined, "the loop scheduled no next try");
    waits.push(waited);
    elapsed += waited;
    assert(await until(() => clock.pending === 1), "no next try scheduled");
  }
  return waits;
}

/** Asserts that `waits` double (+-10%) from `base` up to a 30 s cap. */
function assertDoubling(waits: number[], base: number): void {
  waits.forEach((w, i) => {
    const want = Math.min(base * 2 ** i, 30_000);
    assert(w >= want * 0.9 && w <= want * 1.1, `wait ${i}: ${w}, want ${want}`);
  });
}

Deno.test("LivenessMonitor backs off while the engine is down, logs once a minute with a count, and ticks again once it answers", async () => {
  await using t = await engineDown();
  const monitor = new LivenessMonitor(
    t.deployer.ctx,
    t.deployer.livenessRestarts,
    t.deployer.locks,
    { clock: t.clock },
  );
  await monitor.start();
  try {
    const waits = await runFor(t.clock, TEN_MINUTES);
    assertEquals(waits[0], 100); // the first tick
    assertDoubling(waits.slice(1, -1), 200);
    assert(waits.length < 40, `${waits.length} passes in ten minutes`);
    const failed = t.lines.filter((l) => l.includes("liveness checks failed"));
    assert(
      failed.length <= 11,
      `${failed.length} lines:\n${failed.join("\n")}`,
    );
    assert(failed[0]!.includes("the fake Docker engine is down"), failed[0]);
    assert(/\(\d+ failures in \d+s, \d+ in a row\)/.test(failed[1]!));

    t.runtime.down = false;
    t.clock.runNext();
    assert(await until(() => t.clock.pending === 1));
    assert(
      t.lines.some((l) =>
        l.includes(`liveness checks work again after ${waits.length} failures`)
      ),
      t.lines.join("\n"),
    );
    assertEquals(t.clock.runNext(), 100);
  } finally {
    await monitor.stop();
  }
});

Deno.test("ContainerEvents re-opens the event stream with backoff while the engine is down and logs once a minute with a count", async () => {
  await using t = await engineDown();
  const events = new ContainerEvents(t.deployer.ctx, t.deployer.locks, {
    clock: t.clock,
  });
  await events.start();
  try {
    assert(await until(() => t.clock.pending === 1));
    const waits = await runFor(t.clock, TEN_MINUTES);
    assertDoubling(waits.slice(0, -1), 1000);
    assert(waits.length < 30, `${waits.length} tries in ten minutes`);
    const failed = t.lines.filter((l) => l.includes("container events:"));
    assert(
      failed.length <= 11,
      `${failed.length} lines:\n${failed.join("\n")}`,
    );
    assert(/\(\d+ failures in \d+s, \d+ in a row\)/.test(failed[1]!));
    // the engine answers: the stream stays open, no retry is pending
    t.runtime.down = false;
    t.clock.runNext();
    assert(await until(() => t.runtime.eventStreams === 1));
    assertEquals(t.clock.pending, 0);
  } finally {
    await events.stop();
  }
});
