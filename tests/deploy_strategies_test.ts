import { Deployer, LABEL } from "../lib/services/mod.ts";
import { FakeRuntime } from "../lib/docker/mod.ts";
import { silentLogger } from "../lib/log.ts";
import type { ServiceSpec } from "../lib/spec/types.ts";
import { assert, assertEquals } from "./_docker_contract.ts";
import {
  appDir,
  fakeProbe,
  makeSpec,
  RecordingTraffic,
  testConfig,
} from "./_deploy_fixture.ts";

async function setup(readyTimeoutMs = 300) {
  const dataDir = await Deno.makeTempDir({ prefix: "mypaas-deploy-" });
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
    readyTimeoutMs,
  });
  const dir = await appDir();
  return {
    runtime,
    traffic,
    deployer,
    config,
    dir,
    lines: [] as string[],
    running(service: string) {
      return [...runtime.containers.values()].filter((c) =>
        c.labels[LABEL.service] === service && c.running
      ).map((c) => c.name).sort();
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dataDir, { recursive: true });
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const rolling = (n: number, over: Partial<ServiceSpec> = {}) =>
  makeSpec("web", { scale: { strategy: "rolling", replicas: n }, ...over });

Deno.test("deploy() builds release 1 and starts one container (recreate)", async () => {
  await using t = await setup();
  const res = await t.deployer.deploy(
    makeSpec("web"),
    t.dir,
    (l) => t.lines.push(l),
  );
  assertEquals(res, { ok: true, service: "web", release: 1 });
  assertEquals(t.running("web"), ["web-1-1"]);
  assertEquals(t.runtime.builds, ["mypaas/web:1"]);
  assertEquals(t.traffic.upstreams.get("web")?.size, 1);
  assert(t.lines.some((l) => l.includes("Step 1/1")), t.lines.join("\n"));
});

Deno.test("rolling deploy replaces containers one by one, never below one upstream", async () => {
  await using t = await setup();
  await t.deployer.deploy(rolling(2), t.dir, () => {});
  assertEquals(t.running("web"), ["web-1-1", "web-1-2"]);
  const res = await t.deployer.deploy(
    rolling(2),
    t.dir,
    (l) => t.lines.push(l),
  );
  assertEquals(res.ok, true);
  assertEquals(res.release, 2);
  assertEquals(t.running("web"), ["web-2-1", "web-2-2"]);
  assertEquals([...t.runtime.containers.values()].length, 2, "old removed");
  assert((t.traffic.minAfterFirst.get("web") ?? 0) >= 1);
  const order = t.lines.filter((l) => /^(started|draining)/.test(l));
  assertEquals(order, [
    "started web-2-1, waiting until it is ready",
    "draining and stopping web-1-1",
    "started web-2-2, waiting until it is ready",
    "draining and stopping web-1-2",
  ]);
});

Deno.test("a release that never gets ready fails and leaves the old one serving", async () => {
  await using t = await setup(300);
  await t.deployer.deploy(rolling(2), t.dir, () => {});
  const start = Date.now();
  const res = await t.deployer.deploy(
    rolling(2, { env: { HEALTHY: "no" } }),
    t.dir,
    (l) => t.lines.push(l),
  );
  assertEquals(res.ok, false);
  assertEquals(res.release, 1);
  assert(res.error?.includes("web-2-1 is not ready"), res.error);
  assert(Date.now() - start < 2000);
  assertEquals(t.running("web"), ["web-1-1", "web-1-2"]);
  assertEquals([...t.runtime.containers.values()].length, 2, "new removed");
  assertEquals(t.traffic.upstreams.get("web")?.size, 2);
  assertEquals(await t.runtime.inspectImage("mypaas/web:2"), null);
});

Deno.test("a failure after one old container was retired restores it", async () => {
  await using t = await setup(300);
  await t.deployer.deploy(rolling(2), t.dir, () => {});
  let n = 0;
  // the first new container is healthy, the second is not
  const probe = fakeProbe(t.runtime, (env) => env.HEALTHY !== "no");
  t.deployer.ctx.probe = async (target, check) => {
    const ok = await probe(target, check);
    for (const c of t.runtime.containers.values()) {
      if (Object.values(c.ips).includes(target.host) && c.name === "web-2-2") {
        n++;
        return false;
      }
    }
    return ok;
  };
  const res = await t.deployer.deploy(
    rolling(2),
    t.dir,
    (l) => t.lines.push(l),
  );
  assertEquals(res.ok, false);
  assert(n > 0);
  assertEquals(t.running("web"), ["web-1-1", "web-1-2"]);
  assert(t.lines.includes("restoring web-1-1"), t.lines.join("\n"));
});

Deno.test("a failed build keeps the running release and reports its last lines", async () => {
  await using t = await setup();
  await t.deployer.deploy(makeSpec("web"), t.dir, () => {});
  const bad = await appDir(["RUN false"]);
  try {
    const res = await t.deployer.deploy(
      makeSpec("web"),
      bad,
      (l) => t.lines.push(l),
    );
    assertEquals(res.ok, false);
    assertEquals(res.release, 1);
    assert(
      res.error?.includes("RUN false") ||
        res.error?.includes("/bin/sh -c false"),
      res.error,
    );
    assertEquals(t.running("web"), ["web-1-1"]);
  } finally {
    await Deno.remove(bad, { recursive: true });
  }
});

Deno.test("safe deploy stops all old containers before starting new ones", async () => {
  await using t = await setup();
  const safe = makeSpec("web", { scale: { strategy: "safe", replicas: 2 } });
  await t.deployer.deploy(safe, t.dir, () => {});
  await t.deployer.deploy(safe, t.dir, (l) => t.lines.push(l));
  const order = t.lines.filter((l) => /^(started|draining)/.test(l)).map((l) =>
    l.split(" ")[0] === "started" ? "start" : "stop"
  );
  assertEquals(order, ["stop", "stop", "start", "start"]);
  assertEquals(t.running("web"), ["web-2-1", "web-2-2"]);
});

Deno.test("recreate brings the old container back when the new one fails", async () => {
  await using t = await setup(300);
  await t.deployer.deploy(makeSpec("web"), t.dir, () => {});
  const res = await t.deployer.deploy(
    makeSpec("web", { env: { HEALTHY: "no" } }),
    t.dir,
    (l) => t.lines.push(l),
  );
  assertEquals(res.ok, false);
  assertEquals(t.running("web"), ["web-1-1"]);
  assertEquals(t.traffic.upstreams.get("web")?.size, 1);
});

Deno.test("a second deploy of the same service queues and says so", async () => {
  await using t = await setup();
  const a: string[] = [], b: string[] = [];
  const [ra, rb] = await Promise.all([
    t.deployer.deploy(makeSpec("web"), t.dir, (l) => a.push(l)),
    t.deployer.deploy(makeSpec("web"), t.dir, (l) => b.push(l)),
  ]);
  assertEquals([ra.release, rb.release], [1, 2]);
  assert(b[0]?.startsWith("queued"), b[0]);
  assert(!a.some((l) => l.startsWith("queued")));
  assertEquals(t.running("web"), ["web-2-1"]);
});

Deno.test("rollback returns to the previous release without a build", async () => {
  await using t = await setup();
  await t.deployer.deploy(
    makeSpec("web", { env: { V: "1" } }),
    t.dir,
    () => {},
  );
  await t.deployer.deploy(
    makeSpec("web", { env: { V: "2" } }),
    t.dir,
    () => {},
  );
  const builds = t.runtime.builds.length;
  const res = await t.deployer.rollback(
    "web",
    undefined,
    (l) => t.lines.push(l),
  );
  assertEquals(res, { ok: true, service: "web", release: 1 });
  assertEquals(t.runtime.builds.length, builds);
  const c = await t.runtime.inspect("web-1-1");
  assertEquals(c?.env.V, "1");
  assertEquals(c?.image, "mypaas/web:1");
  const list = await t.deployer.list();
  assertEquals(list[0]?.release, 1);
  assertEquals(list[0]?.releases, [2, 1]);
});

Deno.test("old images beyond keep_releases are pruned", async () => {
  await using t = await setup();
  for (let i = 0; i < 5; i++) {
    await t.deployer.deploy(makeSpec("web"), t.dir, () => {});
  }
  assertEquals((await t.deployer.list())[0]?.releases, [5, 4, 3]);
});

Deno.test("remove() deletes containers, images and routes", async () => {
  await using t = await setup();
  await t.deployer.deploy(rolling(2), t.dir, () => {});
  await t.deployer.remove("web");
  assertEquals(t.running("web"), []);
  assertEquals(await t.runtime.listImages("mypaas/web"), []);
  assertEquals(t.traffic.upstreams.has("web"), false);
  assertEquals(await t.deployer.list(), []);
});

Deno.test("restart() restarts each container, drained first and back in traffic after", async () => {
  await using t = await setup();
  await t.deployer.deploy(rolling(2), t.dir, () => {});
  const before = [...t.runtime.containers.values()].map((c) => c.startedAt);
  t.traffic.events.length = 0;
  const lines: string[] = [];
  await new Promise((r) => setTimeout(r, 5));
  await t.deployer.restart("web", (l) => lines.push(l));
  assertEquals(lines, ["restarting web-1-1", "restarting web-1-2"]);
  const after = [...t.runtime.containers.values()].map((c) => c.startedAt);
  assert(after.every((s, i) => s > before[i]!), `${before} -> ${after}`);
  assertEquals(t.traffic.events.map((e) => e.split(" ")[0]), [
    "drain",
    "add",
    "drain",
    "add",
  ]);
  assertEquals(t.traffic.upstreams.get("web")?.size, 2);
});

Deno.test("logs() merges the current containers' lines as name | line", async () => {
  await using t = await setup();
  await t.deployer.deploy(rolling(2), t.dir, () => {});
  t.runtime.appendLog("web-1-1", "hello");
  t.runtime.appendLog("web-1-2", "oops", "stderr");
  const got: string[] = [];
  for await (const l of t.deployer.logs("web", { follow: false })) got.push(l);
  assertEquals(got.sort(), ["web-1-1 | hello", "web-1-2 | oops"]);
  const ctl = new AbortController();
  const followed: string[] = [];
  const done = (async () => {
    for await (
      const l of t.deployer.logs("web", { follow: true, signal: ctl.signal })
    ) {
      followed.push(l);
      if (l.endsWith("later")) ctl.abort();
    }
  })();
  await new Promise((r) => setTimeout(r, 10));
  t.runtime.appendLog("web-1-2", "later");
  await done;
  assert(followed.includes("web-1-2 | later"), followed.join(","));
});

Deno.test("list() shows the phase of a running deploy", async () => {
  await using t = await setup(5000);
  await t.deployer.deploy(makeSpec("web"), t.dir, () => {});
  const gate = Promise.withResolvers<void>();
  const probe = t.deployer.ctx.probe;
  t.deployer.ctx.probe = async (target, check) => {
    await gate.promise;
    return probe(target, check);
  };
  const running = t.deployer.deploy(makeSpec("web"), t.dir, () => {});
  let state = "";
  for (let i = 0; i < 100 && !state.includes("waiting-healthy"); i++) {
    await new Promise((r) => setTimeout(r, 5));
    state = (await t.deployer.list())[0]?.state ?? "";
  }
  assertEquals(state, "deploying (waiting-healthy)");
  assertEquals((await t.deployer.list())[0]?.release, 1);
  gate.resolve();
  assertEquals((await running).ok, true);
  assertEquals((await t.deployer.list())[0]?.state, "running");
});
