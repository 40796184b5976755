import { assert, assertEquals } from "../_docker_contract.ts";
import { LivenessMonitor } from "../../lib/services/mod.ts";
import { deployEnv } from "./_deploy_env.ts";
import { docker, tryGet } from "./_images.ts";

const MiB = 1024 * 1024;

/** Full IDs of the service's running (`all`: also stopped) containers. */
async function containerIds(
  service: string,
  opts: { all?: boolean } = {},
): Promise<string[]> {
  const ps = await docker([
    "ps",
    opts.all ? "-aq" : "-q",
    "--no-trunc",
    "--filter",
    `label=mypaas.service=${service}`,
  ]);
  return ps.stdout.split("\n").filter(Boolean).sort();
}

Deno.test("e2e: a scale-2 rolling redeploy replaces containers one by one while one healthy container always answers", async () => {
  await using t = await deployEnv();
  const spec = t.spec({ scale: { strategy: "rolling", replicas: 2 } });
  await t.write({ body: "v1" });
  const first = await t.deployer.deploy(spec, t.app, () => {});
  assert(first.ok, first.error);
  assertEquals((await t.ips()).length, 2);

  await t.write({ body: "v2" });
  const lines: string[] = [];
  let done = false;
  let polls = 0, worst = Infinity;
  const seenBodies = new Set<string>();
  const poller = (async () => {
    const end = Date.now() + 60_000;
    while (!done && Date.now() < end) {
      const ups = [...(t.traffic.upstreams.get(t.service)?.values() ?? [])];
      const answers = await Promise.all(
        ups.map((u) => tryGet(`${u.url}/`, 1000)),
      );
      const healthy = answers.filter((a) => a?.status === 200);
      for (const a of healthy) seenBodies.add(a!.body);
      worst = Math.min(worst, healthy.length);
      polls++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const second = await t.deployer.deploy(spec, t.app, (l) => lines.push(l));
  done = true;
  await poller;
  assert(second.ok, second.error);
  assertEquals(second.release, 2);
  assert(polls > 5, `only ${polls} polls`);
  assert(worst >= 1, `a moment with ${worst} healthy upstreams`);
  assertEquals([...seenBodies].sort(), ["v1", "v2"]);
  const order = lines.filter((l) => /^(started|draining)/.test(l)).map((l) =>
    l.split(",")[0]
  );
  assertEquals(order, [
    `started ${t.service}-2-1`,
    `draining and stopping ${t.service}-1-1`,
    `started ${t.service}-2-2`,
    `draining and stopping ${t.service}-1-2`,
  ]);
  const ips = await t.ips();
  assertEquals(ips.length, 2);
  for (const ip of ips) {
    assertEquals((await tryGet(`http://${ip}/`))?.body, "v2");
  }
});

Deno.test("e2e: a version whose healthcheck never passes fails within its deadline and the old containers keep serving", async () => {
  await using t = await deployEnv(2500);
  const spec = t.spec({ scale: { strategy: "rolling", replicas: 2 } });
  await t.write({ body: "v1" });
  assert((await t.deployer.deploy(spec, t.app, () => {})).ok);
  const before = await containerIds(t.service);
  await t.write({ body: "v2", health: false });
  const start = Date.now();
  const res = await t.deployer.deploy(spec, t.app, () => {});
  const took = Date.now() - start;
  assertEquals(res.ok, false);
  assertEquals(res.release, 1);
  assert(res.error?.includes("GET /health"), res.error);
  assert(took < 2500 + 5000, `took ${took}ms`);
  const after = await containerIds(t.service);
  assertEquals(after, before);
  for (const ip of await t.ips()) {
    assertEquals((await tryGet(`http://${ip}/`))?.body, "v1");
  }
  const all = await containerIds(t.service, { all: true });
  assertEquals(all.length, 2, "the failed release's containers are gone");
});

Deno.test("e2e: maxcpu, maxmem, request, env, volume and publish show in docker inspect", async () => {
  await using t = await deployEnv();
  const hostDir = `${t.volumeRoot}/vol`;
  await Deno.mkdir(hostDir);
  await Deno.writeTextFile(`${hostDir}/hello.txt`, "from the host");
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const hostPort = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const spec = t.spec({
    maxcpu: 0.5,
    maxmem: 96 * MiB,
    request: { cpu: 0.25, mem: 32 * MiB },
    env: { GREETING: "hi there", SECRET: "s3cret" },
    volumes: [
      { kind: "bind", source: hostDir, target: "/www/vol" },
      { kind: "volume", source: `${t.service}-data`, target: "/data" },
    ],
    publish: [{ hostPort, containerPort: 80, protocol: "tcp" }],
  });
  await t.write({ body: "inspect me" });
  const res = await t.deployer.deploy(spec, t.app, () => {});
  assert(res.ok, res.error);
  const out = await docker(["inspect", `${t.service}-1-1`]);
  const [c] = JSON.parse(out.stdout);
  assertEquals(c.HostConfig.NanoCpus, 500_000_000);
  assertEquals(c.HostConfig.Memory, 96 * MiB);
  assertEquals(c.HostConfig.MemoryReservation, 32 * MiB);
  assertEquals(c.HostConfig.CpuShares, 256);
  assertEquals(c.HostConfig.RestartPolicy.Name, "unless-stopped");
  assertEquals(c.HostConfig.Init, true);
  assert(c.Config.Env.includes("GREETING=hi there"), c.Config.Env.join());
  assert(c.Config.Env.includes("SECRET=s3cret"));
  assert(c.Config.Env.includes(`MYPAAS_SERVICE=${t.service}`));
  assert(c.Config.Env.includes("MYPAAS_SCALE=0"));
  assert(c.Config.Env.includes("MYPAAS_PORT=80"));
  assert(c.Config.Env.includes(`MYPAAS_CONTAINER=${t.service}-1-1`));
  assert(
    c.HostConfig.Binds.includes(`${hostDir}:/www/vol`),
    c.HostConfig.Binds.join(),
  );
  assert(c.HostConfig.Binds.includes(`${t.service}-data:/data`));
  assertEquals(c.HostConfig.PortBindings["80/tcp"], [{
    HostIp: "",
    HostPort: String(hostPort),
  }]);
  assert(t.network in c.NetworkSettings.Networks);
  assertEquals(c.Config.Labels["mypaas.release"], "1");
  assertEquals(JSON.parse(c.Config.Labels["mypaas.spec"]).maxmem, 96 * MiB);
  // the bind mount and the published port work, too
  const ip = (await t.ips())[0];
  assertEquals(
    (await tryGet(`http://${ip}/vol/hello.txt`))?.body,
    "from the host",
  );
  assertEquals(
    (await tryGet(`http://127.0.0.1:${hostPort}/`))?.body,
    "inspect me",
  );
  await docker(["rm", "-f", `${t.service}-1-1`]);
  await docker(["volume", "rm", "-f", `${t.service}-data`], {
    allowFail: true,
  });
});

Deno.test("e2e: rollback restores the previous image without a build", async () => {
  await using t = await deployEnv();
  const spec = t.spec();
  await t.write({ body: "v1" });
  assert((await t.deployer.deploy(spec, t.app, () => {})).ok);
  await t.write({ body: "v2" });
  assert((await t.deployer.deploy(spec, t.app, () => {})).ok);
  assertEquals((await tryGet(`http://${(await t.ips())[0]}/`))?.body, "v2");
  const v1Image = (await docker([
    "image",
    "inspect",
    "-f",
    "{{.Id}}",
    `mypaas/${t.service}:1`,
  ])).stdout.trim();
  const lines: string[] = [];
  const res = await t.deployer.rollback(
    t.service,
    undefined,
    (l) => lines.push(l),
  );
  assert(res.ok, res.error);
  assertEquals(res.release, 1);
  assert(
    !lines.some((l) => l.startsWith("building") || l.startsWith("Step")),
    lines.join("\n"),
  );
  const ips = await t.ips();
  assertEquals(ips.length, 1);
  assertEquals((await tryGet(`http://${ips[0]}/`))?.body, "v1");
  const running =
    (await docker(["inspect", "-f", "{{.Image}}", `${t.service}-1-1`])).stdout
      .trim();
  assertEquals(running, v1Image);
  const list = await t.deployer.list();
  assertEquals([list[0]?.release, list[0]?.releases], [1, [2, 1]]);
});

Deno.test("e2e: a container failing its liveness check three times in a row is restarted, and list counts it", async () => {
  await using t = await deployEnv();
  const spec = t.spec({
    liveness: { path: "/alive", intervalMs: 100, timeoutMs: 100 },
  });
  await t.write({ body: "live", extra: ["COPY www/health /www/alive"] });
  assert((await t.deployer.deploy(spec, t.app, () => {})).ok);
  const monitor = new LivenessMonitor(
    t.deployer.ctx,
    t.deployer.livenessRestarts,
    t.deployer.locks,
    { tickMs: 50 },
  );
  await monitor.start();
  try {
    const name = `${t.service}-1-1`;
    const started =
      (await docker(["inspect", "-f", "{{.State.StartedAt}}", name])).stdout
        .trim();
    await docker(["exec", name, "rm", "/www/alive"]);
    // The count is taken when the restart is asked for; the container's
    // new start time shows once Docker has carried it out.
    let restarts = 0;
    let again = started;
    const end = Date.now() + 15_000;
    while ((restarts < 1 || again === started) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      restarts = (await t.deployer.list())[0]?.instances[0]?.restarts ?? 0;
      again = (await docker(["inspect", "-f", "{{.State.StartedAt}}", name]))
        .stdout.trim();
    }
    assert(restarts >= 1, "no restart within 15 s");
    assert(again !== started, "the container was not restarted");
  } finally {
    await monitor.stop();
  }
});
