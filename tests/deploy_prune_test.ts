/**
 * Dead-container pruning on the fake runtime: a deploy leaves no exited
 * container of an earlier release behind, and `prune()` removes dead
 * containers of other releases only (running ones, and the current
 * release's dead ones, stay).
 */
import { Deployer, LABEL } from "../lib/services/mod.ts";
import { prune } from "../lib/services/releases.ts";
import { FakeRuntime } from "../lib/docker/mod.ts";
import { silentLogger } from "../lib/log.ts";
import { assertEquals } from "./_docker_contract.ts";
import {
  appDir,
  fakeProbe,
  makeSpec,
  RecordingTraffic,
  testConfig,
} from "./_deploy_fixture.ts";

async function setup() {
  const dataDir = await Deno.makeTempDir({ prefix: "mypaas-prune-" });
  const config = testConfig(dataDir);
  const runtime = new FakeRuntime();
  runtime.addImage("mypaas-test/busybox:1");
  const traffic = new RecordingTraffic();
  const deployer = new Deployer({
    runtime,
    config,
    traffic,
    probe: fakeProbe(runtime),
    log: silentLogger,
    owner: config.docker.network,
    readyTimeoutMs: 300,
  });
  const dir = await appDir();
  return {
    runtime,
    traffic,
    deployer,
    dir,
    /** Every container of `service` as "name state", sorted. */
    containers(service: string): string[] {
      return [...runtime.containers.values()]
        .filter((c) => c.labels[LABEL.service] === service)
        .map((c) => `${c.name} ${c.state}`)
        .sort();
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dataDir, { recursive: true });
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const rolling = (n: number) =>
  makeSpec("web", { scale: { strategy: "rolling", replicas: n } });

Deno.test("a deploy removes an earlier release's exited containers and keeps the new release running", async () => {
  await using t = await setup();
  const first = await t.deployer.deploy(rolling(3), t.dir, () => {});
  assertEquals(first.ok, true);
  t.runtime.crash("web-1-2", 1);
  await t.runtime.stop("web-1-3");
  assertEquals(t.containers("web"), [
    "web-1-1 running",
    "web-1-2 exited",
    "web-1-3 exited",
  ]);

  const second = await t.deployer.deploy(rolling(2), t.dir, () => {});
  assertEquals(second, { ok: true, service: "web", release: 2 });
  assertEquals(t.containers("web"), ["web-2-1 running", "web-2-2 running"]);
  const ups = t.traffic.upstreams.get("web") ?? new Map();
  for (const name of ["web-2-1", "web-2-2"]) {
    const c = await t.runtime.inspect(name);
    assertEquals(ups.has(c?.id ?? ""), true, `${name} receives traffic`);
  }
});

Deno.test("prune() removes dead containers of other releases, not running ones nor the current release's", async () => {
  await using t = await setup();
  assertEquals((await t.deployer.deploy(rolling(2), t.dir, () => {})).ok, true);
  t.runtime.crash("web-1-2", 1);

  // release 1 is current: its dead replica stays for a restart
  await prune(t.deployer.ctx, "web", 1);
  assertEquals(t.containers("web"), ["web-1-1 running", "web-1-2 exited"]);

  // release 2 is current: release 1's dead replica goes, its live one stays
  await prune(t.deployer.ctx, "web", 2);
  assertEquals(t.containers("web"), ["web-1-1 running"]);
});
