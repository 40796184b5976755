import {
  ContainerEvents,
  Deployer,
  LABEL,
  LivenessMonitor,
} from "../lib/services/mod.ts";
import { startReplica } from "../lib/services/context.ts";
import { FakeRuntime } from "../lib/docker/mod.ts";
import { silentLogger } from "../lib/log.ts";
import { until } from "./_until.ts";
import { assert, assertEquals } from "./_docker_contract.ts";
import {
  appDir,
  fakeProbe,
  makeSpec,
  RecordingTraffic,
  testConfig,
} from "./_deploy_fixture.ts";

const up = { path: "/up", intervalMs: 1000, timeoutMs: 1000 };
const spec2 = makeSpec("web", {
  scale: { strategy: "rolling", replicas: 2 },
  healthcheck: up,
});

async function setup() {
  const dataDir = await Deno.makeTempDir({ prefix: "mypaas-recover-" });
  const config = testConfig(dataDir);
  const runtime = new FakeRuntime();
  runtime.addImage("mypaas-test/busybox:1");
  const make = () => {
    const traffic = new RecordingTraffic();
    return {
      traffic,
      deployer: new Deployer({
        runtime,
        config,
        traffic,
        probe: fakeProbe(runtime),
        log: silentLogger,
        owner: config.docker.network,
        readyTimeoutMs: 300,
      }),
    };
  };
  const first = make();
  const dir = await appDir();
  // release 1 serving with two containers; release 2 built
  await first.deployer.deploy(spec2, dir, () => {});
  await runtime.tagImage("mypaas/web:1", "mypaas/web", "2");
  return {
    runtime,
    config,
    first,
    /** Leaves the marker of a deploy of web from release 1 to 2. */
    markDeploying: () =>
      first.deployer.markers.write({
        service: "web",
        from: 1,
        to: 2,
        startedAt: 0,
      }),
    /** A fresh daemon on the same engine and data dir (after kill -9). */
    restart: make,
    running() {
      return [...runtime.containers.values()].filter((c) =>
        c.labels[LABEL.service] === "web" && c.running
      ).map((c) => c.name).sort();
    },
    all() {
      return [...runtime.containers.values()].map((c) => c.name).sort();
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dataDir, { recursive: true });
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("recovery finishes a rolling deploy whose new containers are complete and ready", async () => {
  await using t = await setup();
  const ctx = t.first.deployer.ctx;
  await t.markDeploying();
  await startReplica(ctx, spec2, 2, 1, "candidate");
  await t.runtime.stop("web-1-1");
  await startReplica(ctx, spec2, 2, 2, "candidate");
  const d = t.restart();
  const out = await d.deployer.recover();
  assertEquals(out.map((o) => [o.action, o.release]), [["finished", 2]]);
  assertEquals(t.all(), ["web-2-1", "web-2-2"]);
  assertEquals(d.traffic.upstreams.get("web")?.size, 2);
  assertEquals((await d.deployer.markers.all()).length, 0);
  const list = await d.deployer.list();
  assertEquals([list[0]?.release, list[0]?.state], [2, "running"]);
});

Deno.test("recovery rolls back a rolling deploy cut off midway", async () => {
  await using t = await setup();
  const ctx = t.first.deployer.ctx;
  await t.markDeploying();
  await startReplica(ctx, spec2, 2, 1, "candidate");
  await t.runtime.stop("web-1-1");
  const d = t.restart();
  const out = await d.deployer.recover();
  assertEquals(out.map((o) => [o.action, o.release]), [["rolled-back", 1]]);
  assertEquals(t.running(), ["web-1-1", "web-1-2"]);
  assertEquals(t.all(), ["web-1-1", "web-1-2"]);
  assertEquals(d.traffic.upstreams.get("web")?.size, 2);
});

Deno.test("recovery rolls back when the new containers never get ready", async () => {
  await using t = await setup();
  const ctx = t.first.deployer.ctx;
  const sick = { ...spec2, env: { HEALTHY: "no" } };
  await startReplica(ctx, sick, 2, 1, "candidate");
  await startReplica(ctx, sick, 2, 2, "candidate");
  await t.runtime.stop("web-1-1");
  await t.runtime.remove("web-1-2", { force: true });
  // no marker: the labels alone decide
  const d = t.restart();
  const out = await d.deployer.recover();
  assertEquals(out.map((o) => [o.action, o.release]), [["rolled-back", 1]]);
  assertEquals(t.running(), ["web-1-1", "web-1-2"]);
});

Deno.test("recovery registers each replica with its own release's healthcheck, read from its labels", async () => {
  await using t = await setup();
  const ctx = t.first.deployer.ctx;
  const nope = { path: "/nope", intervalMs: 1000, timeoutMs: 1000 };
  await t.markDeploying();
  await startReplica(ctx, { ...spec2, healthcheck: nope }, 2, 1, "candidate");
  const d = t.restart();
  const out = await d.deployer.recover();
  assertEquals(out.map((o) => [o.action, o.release]), [["rolled-back", 1]]);
  const ups = [...d.traffic.upstreams.get("web")!.values()];
  assertEquals(ups.length, 2);
  for (const u of ups) assertEquals(u.healthcheck, up);

  // a finished deploy registers the new release's check
  await t.markDeploying();
  const nopeSpec = { ...spec2, healthcheck: nope };
  await startReplica(ctx, nopeSpec, 2, 1, "candidate");
  await startReplica(ctx, nopeSpec, 2, 2, "candidate");
  const d2 = t.restart();
  const out2 = await d2.deployer.recover();
  assertEquals(out2.map((o) => [o.action, o.release]), [["finished", 2]]);
  const ups2 = [...d2.traffic.upstreams.get("web")!.values()];
  assertEquals(ups2.length, 2);
  for (const u of ups2) assertEquals(u.healthcheck, nope);
});

Deno.test("recovery restarts a recreate deploy's old container stopped before the new one started", async () => {
  await using t = await setup();
  await t.markDeploying();
  await t.runtime.stop("web-1-1");
  await t.runtime.stop("web-1-2");
  const d = t.restart();
  await d.deployer.recover();
  assertEquals(t.running(), ["web-1-1", "web-1-2"]);
});

Deno.test("recovery ignores containers of another daemon (owner label)", async () => {
  await using t = await setup();
  const other = new Deployer({
    ...t.first.deployer.ctx,
    owner: "someone-else",
    config: testConfig(t.config.server.dataDir, { network: "other-net" }),
  });
  const dir = await appDir();
  await other.deploy(makeSpec("api"), dir, () => {});
  await Deno.remove(dir, { recursive: true });
  const d = t.restart();
  const out = await d.deployer.recover();
  assertEquals(out.map((o) => o.service), ["web"]);
  assertEquals((await d.deployer.list()).map((s) => s.service), ["web"]);
});

Deno.test("liveness restarts a container after three failed checks and counts it", async () => {
  await using t = await setup();
  const spec = makeSpec("live", {
    liveness: { path: "/alive", intervalMs: 10, timeoutMs: 10 },
  });
  const { deployer } = t.first;
  const dir = await appDir();
  await deployer.deploy(spec, dir, () => {});
  await Deno.remove(dir, { recursive: true });
  let alive = false;
  deployer.ctx.probe = (_t, check) =>
    Promise.resolve(check?.path !== "/alive" || alive);
  const monitor = new LivenessMonitor(
    deployer.ctx,
    deployer.livenessRestarts,
    deployer.locks,
  );
  await monitor.check(1000);
  await monitor.check(1020);
  const before = (await deployer.list()).find((s) => s.service === "live");
  assertEquals(before?.instances[0]?.restarts, 0);
  await monitor.check(1040);
  const after = (await deployer.list()).find((s) => s.service === "live");
  assertEquals(after?.instances[0]?.restarts, 1);
  alive = true;
  await monitor.check(5000);
  await monitor.check(6000);
  await monitor.check(7000);
  const still = (await deployer.list()).find((s) => s.service === "live");
  assertEquals(still?.instances[0]?.restarts, 1);
  assert(t.runtime.containers.size > 0);
});

Deno.test("container events: a dying container leaves traffic, and returns once it runs again", async () => {
  await using t = await setup();
  const { deployer, traffic } = t.first;
  const events = new ContainerEvents(deployer.ctx, deployer.locks, {
    retry: { baseMs: 10, maxMs: 10 },
  });
  await events.start();
  try {
    const id = (await t.runtime.inspect("web-1-1"))!.id;
    await new Promise((r) => setTimeout(r, 10));
    t.runtime.crash(id);
    await until(() => !traffic.upstreams.get("web")?.has(id));
    assertEquals(traffic.upstreams.get("web")?.size, 1);
    await t.runtime.start(id);
    await until(() => traffic.upstreams.get("web")?.has(id) ?? false);
    assertEquals(traffic.upstreams.get("web")?.size, 2);
  } finally {
    await events.stop();
  }
});
