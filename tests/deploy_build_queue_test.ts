/**
 * Builds yield to serving (issue 25.1) on the fake runtime: one build at a
 * time with a "waiting for the build of X" line, build_timeout on a
 * FakeClock over waiting and building, the limits passed to the build, and a
 * memory kill named with its limit.
 */
import { resolveConfig } from "../lib/config/mod.ts";
import {
  BUILD_CPU_SHARES,
  buildCores,
  buildLimits,
} from "../lib/services/build.ts";
import { Deployer, LABEL } from "../lib/services/mod.ts";
import { FakeRuntime } from "../lib/docker/mod.ts";
import { silentLogger } from "../lib/log.ts";
import { assert, assertEquals } from "./_docker_contract.ts";
import {
  appDir,
  fakeProbe,
  makeSpec,
  RecordingTraffic,
  testConfig,
} from "./_deploy_fixture.ts";
import { FakeClock } from "./_fake_clock.ts";
import { until } from "./_until.ts";

async function setup(docker = "") {
  const dataDir = await Deno.makeTempDir({ prefix: "mypaas-buildq-" });
  const base = testConfig(dataDir);
  const config = docker
    ? resolveConfig(
      `[server]\ndata_dir = "${dataDir}"\ncontrol_socket = "${dataDir}/s.sock"\n[docker]\nnetwork = "${base.docker.network}"\n${docker}\n`,
      { home: "/root", file: "test-config.toml" },
    )
    : base;
  const runtime = new FakeRuntime();
  runtime.addImage("mypaas-test/busybox:1");
  const clock = new FakeClock();
  const deployer = new Deployer({
    runtime,
    config,
    traffic: new RecordingTraffic(),
    probe: fakeProbe(runtime),
    log: silentLogger,
    owner: config.docker.network,
    readyTimeoutMs: 300,
    clock,
  });
  const dirs: string[] = [];
  return {
    runtime,
    deployer,
    clock,
    async dir(lines: string[] = []) {
      const d = await appDir(lines);
      dirs.push(d);
      return d;
    },
    running(service: string) {
      return [...runtime.containers.values()].filter((c) =>
        c.labels[LABEL.service] === service && c.running
      ).map((c) => c.name);
    },
    async [Symbol.asyncDispose]() {
      for (const d of [dataDir, ...dirs]) {
        await Deno.remove(d, { recursive: true });
      }
    },
  };
}

/** A gate per build tag: the test opens each one. */
function gates(runtime: FakeRuntime) {
  const open = new Map<string, () => void>();
  runtime.buildGate = (opts) =>
    new Promise<void>((resolve) => open.set(opts.tag, resolve));
  return open;
}

Deno.test("build limits: low CPU weight, all but one core (at least one), build_memory without swap", () => {
  assertEquals(buildCores(0, 2), 1);
  assertEquals(buildCores(0, 1), 1);
  assertEquals(buildCores(0, 8), 7);
  assertEquals(buildCores(1.5, 8), 1.5);
  assertEquals(buildLimits({ buildCpus: 0, buildMemory: 2 * 1024 ** 3 }, 4), {
    cpuShares: BUILD_CPU_SHARES,
    cpuPeriod: 100_000,
    cpuQuota: 300_000,
    memory: 2 * 1024 ** 3,
    memswap: 2 * 1024 ** 3,
  });
});

Deno.test("[docker] build_* keys: defaults and bad values", () => {
  const d = resolveConfig("", { home: "/root" }).docker;
  assertEquals([d.buildCpus, d.buildMemory, d.buildTimeout], [
    0,
    2 * 1024 ** 3,
    30 * 60_000,
  ]);
  for (
    const [text, key] of [
      ['build_cpus = "lots"', "build_cpus"],
      ['build_memory = "1k"', "build_memory"],
      ['build_timeout = "soon"', "build_timeout"],
    ]
  ) {
    let msg = "";
    try {
      resolveConfig(`[docker]\n${text}\n`, { home: "/root", file: "c.toml" });
    } catch (err) {
      msg = (err as Error).message;
    }
    assert(msg.includes("c.toml:2") && msg.includes(key!), msg);
  }
});

Deno.test("the build gets the host's limits from config", async () => {
  await using t = await setup('build_cpus = 1.5\nbuild_memory = "64m"');
  const res = await t.deployer.deploy(makeSpec("web"), await t.dir(), () => {});
  assert(res.ok, res.error);
  const opts = t.runtime.buildOptions[0]!;
  assertEquals(opts.limits, {
    cpuShares: BUILD_CPU_SHARES,
    cpuPeriod: 100_000,
    cpuQuota: 150_000,
    memory: 64 << 20,
    memswap: 64 << 20,
  });
  assert(opts.signal instanceof AbortSignal);
});

Deno.test("one build at a time: a second push waits, says for whom, and builds after, in order", async () => {
  await using t = await setup();
  const open = gates(t.runtime);
  const lines = { a: [] as string[], b: [] as string[], c: [] as string[] };
  const a = t.deployer.deploy(
    makeSpec("alpha"),
    await t.dir(),
    (l) => lines.a.push(l),
  );
  await until(() => open.has("mypaas/alpha:1"), { what: "alpha builds" });
  const b = t.deployer.deploy(
    makeSpec("beta"),
    await t.dir(),
    (l) => lines.b.push(l),
  );
  await until(() => lines.b.some((l) => l.startsWith("waiting for")), {
    what: "beta waits",
  });
  const c = t.deployer.deploy(
    makeSpec("gamma"),
    await t.dir(),
    (l) => lines.c.push(l),
  );
  await until(() => lines.c.some((l) => l.startsWith("waiting for")), {
    what: "gamma waits",
  });
  assert(lines.b.includes("waiting for the build of alpha"), lines.b.join());
  assert(
    lines.c.includes("waiting for the build of alpha (1 more queued ahead)"),
    lines.c.join("|"),
  );
  assertEquals(t.runtime.buildOptions.length, 1); // beta has not started
  assert(!lines.a.some((l) => l.startsWith("waiting")));
  open.get("mypaas/alpha:1")!();
  await until(() => open.has("mypaas/beta:1"), { what: "beta builds" });
  assertEquals(t.runtime.buildOptions.length, 2);
  open.get("mypaas/beta:1")!();
  await until(() => open.has("mypaas/gamma:1"), { what: "gamma builds" });
  open.get("mypaas/gamma:1")!();
  const res = await Promise.all([a, b, c]);
  assert(res.every((r) => r.ok), JSON.stringify(res));
  assertEquals(t.runtime.builds, [
    "mypaas/alpha:1",
    "mypaas/beta:1",
    "mypaas/gamma:1",
  ]);
});

Deno.test("build_timeout bounds waiting: the push fails, the running release keeps serving, the queue moves on", async () => {
  await using t = await setup('build_timeout = "10m"');
  // beta release 1 serves
  assert(
    (await t.deployer.deploy(makeSpec("beta"), await t.dir(), () => {}))
      .ok,
  );
  // alpha's build holds the queue (with a deadline of its own, later)
  let finish!: () => void;
  const a = t.deployer.builds.run(
    "alpha",
    3_600_000,
    () => {},
    () => new Promise<void>((resolve) => finish = resolve),
  );
  const lines: string[] = [];
  const b = t.deployer.deploy(
    makeSpec("beta"),
    await t.dir(),
    (l) => lines.push(l),
  );
  await until(() => lines.includes("waiting for the build of alpha"), {
    what: "beta waits",
  });
  t.clock.advance(9 * 60_000);
  assertEquals(t.runtime.buildOptions.length, 1); // beta 1 only
  t.clock.advance(60_000);
  const res = await b;
  assertEquals(res.ok, false);
  assertEquals(res.release, 1);
  assert(
    res.error!.includes("did not start within [docker] build_timeout = 10m") &&
      res.error!.includes("waited 10m"),
    res.error,
  );
  assert(
    lines.some((l) => l.includes("release 1 is untouched")),
    lines.join("|"),
  );
  assertEquals(t.running("beta"), ["beta-1-1"]);
  // the timed-out waiter does not hold the queue
  assertEquals(t.deployer.builds.running, "alpha");
  finish();
  await a;
  const again = await t.deployer.deploy(
    makeSpec("beta"),
    await t.dir(),
    () => {},
  );
  assert(again.ok, again.error);
});

Deno.test("build_timeout bounds the build itself: it is aborted and the deploy fails", async () => {
  await using t = await setup('build_timeout = "5m"');
  const open = gates(t.runtime);
  const p = t.deployer.deploy(makeSpec("alpha"), await t.dir(), () => {});
  await until(() => open.has("mypaas/alpha:1"), { what: "alpha builds" });
  const signal = t.runtime.buildOptions[0]!.signal!;
  assert(!signal.aborted);
  t.clock.advance(5 * 60_000);
  assert(signal.aborted);
  const res = await p;
  assertEquals(res.ok, false);
  assert(
    res.error!.includes("did not finish within [docker] build_timeout = 5m"),
    res.error,
  );
  assertEquals(t.runtime.builds, []);
  assertEquals(t.clock.pending, 0);
});

Deno.test("a build killed for memory says so and names the limit", async () => {
  await using t = await setup('build_memory = "64m"');
  const res = await t.deployer.deploy(
    makeSpec("web"),
    await t.dir(["RUN exit 137"]),
    () => {},
  );
  assertEquals(res.ok, false);
  assert(
    res.error!.startsWith("build killed for memory") &&
      res.error!.includes("64m ([docker] build_memory"),
    res.error,
  );
  // another failure is not called a memory kill
  const other = await t.deployer.deploy(
    makeSpec("web"),
    await t.dir(["RUN exit 3"]),
    () => {},
  );
  assert(!other.error!.includes("memory"), other.error);
});
