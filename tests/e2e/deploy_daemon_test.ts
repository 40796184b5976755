/**
 * The daemon as a real process: `deno run -A main.ts server run` with its
 * own data dir, control socket and network. Killed with SIGKILL in the
 * middle of a rolling deploy and restarted, it must leave the service
 * wholly on one release and `list` must say which.
 */
import { ControlClient } from "../../lib/api/control_client.ts";
import { assert, assertEquals } from "../_docker_contract.ts";
import {
  docker,
  ensureBusyboxImage,
  getWithHost,
  removeByLabel,
  removeImages,
  tryGet,
  uniqueName,
  writeHttpdApp,
} from "./_images.ts";
import { DaemonProcess, freePort } from "./_daemon.ts";
import { runMain } from "../_run_main.ts";

async function daemonEnv(
  opts: { httpPort?: number; dockerSocket?: string } = {},
) {
  await ensureBusyboxImage();
  const dir = await Deno.makeTempDir({ prefix: "mypaas-daemon-e2e-" });
  const network = uniqueName("mypaas-d");
  const service = uniqueName("kill");
  const socket = `${dir}/ctl.sock`;
  const configFile = `${dir}/config.toml`;
  await Deno.writeTextFile(
    configFile,
    `[server]
data_dir = "${dir}/data"
control_socket = "${socket}"
bind = "127.0.0.1"
http_port = ${opts.httpPort ?? 0}
https_port = 0
[docker]
network = "${network}"
socket = "${opts.dockerSocket ?? "/var/run/docker.sock"}"
volume_root = "${dir}/volumes"
[proxy]
drain_timeout = "200ms"
[isolates]
min_workers = 0
[env]
API_TOKEN = "t0ken"
`,
  );
  const daemon = new DaemonProcess(configFile);
  return {
    dir,
    network,
    service,
    socket,
    configFile,
    logs: daemon.logs,
    app: `${dir}/app`,
    async start() {
      daemon.start();
      const client = new ControlClient(socket);
      try {
        await daemon.waitFor("the daemon to answer", async () => {
          await client.list();
          return true;
        });
      } finally {
        client.close();
      }
    },
    kill9() {
      daemon.kill("SIGKILL");
      return daemon.child.status;
    },
    /** `mypaas ARGS --config FILE` as a process: exit code and output. */
    cli: (...args: string[]) => runMain([...args, "--config", configFile]),
    async [Symbol.asyncDispose]() {
      await daemon.stop();
      await removeByLabel(`mypaas.owner=${network}`);
      await removeImages(`mypaas/${service}`);
      await docker(["network", "rm", network], { allowFail: true });
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

function comments(service: string): string[] {
  return [
    `service=${service}`,
    `url=http://${service}.localhost`,
    "scale=roll 2",
    "healthcheck=/health 200ms 200ms",
  ];
}

for (
  const [moment, line, expected] of [
    [
      "one new container serves, both old exist",
      (s: string) => `${s}-2-1 is ready and receives traffic`,
      1,
    ],
    [
      "both new containers serve, the last old one is draining",
      (s: string) => `draining and stopping ${s}-1-2`,
      2,
    ],
  ] as const
) {
  Deno.test(`e2e daemon: kill -9 during a rolling deploy (${moment}), restart: wholly on one release, and list says which`, async () => {
    const port = freePort();
    await using t = await daemonEnv({ httpPort: port });
    await t.start();
    const client = new ControlClient(t.socket);
    try {
      await writeHttpdApp(t.app, { body: "v1", comments: comments(t.service) });
      const first = await client.deploy(t.app, {}, () => {});
      assert(first.ok, first.error);
      await writeHttpdApp(t.app, { body: "v2", comments: comments(t.service) });
      const lines: string[] = [];
      const killed = Promise.withResolvers<void>();
      const deploying = client.deploy(t.app, {}, (l) => {
        lines.push(l);
        if (l === line(t.service)) {
          t.kill9();
          killed.resolve();
        }
      }).catch((err) => err);
      await Promise.race([killed.promise, deploying]);
      await t.kill9();
      await deploying;
      assert(
        lines.includes(`${t.service}-2-1 is ready and receives traffic`),
        lines.join("\n"),
      );
      const mixed = (await docker([
        "ps",
        "-a",
        "--format",
        "{{.Names}}",
        "--filter",
        `label=mypaas.owner=${t.network}`,
      ])).stdout;
      // killed mid-way: both releases exist (in the later moment the old
      // container may already be gone if the kill came a little late)
      assert(mixed.includes(`${t.service}-2-1`), mixed);
      if (expected === 1) assert(mixed.includes(`${t.service}-1-2`), mixed);

      await t.start();
      const list = (await client.list()).find((s) => s.service === t.service);
      assert(list, "list lost the service");
      // incomplete new set: rolled back; complete and ready: finished
      assertEquals(list.release, expected);
      assertEquals(list.state, "running");
      const want = list.release === 1 ? "v1" : "v2";
      const names = (await docker([
        "ps",
        "-a",
        "--format",
        "{{.Names}} {{.State}}",
        "--filter",
        `label=mypaas.owner=${t.network}`,
      ])).stdout.trim().split("\n").sort();
      assertEquals(names, [
        `${t.service}-${list.release}-1 running`,
        `${t.service}-${list.release}-2 running`,
      ]);
      for (const n of [1, 2]) {
        const ip = (await docker([
          "inspect",
          "-f",
          `{{(index .NetworkSettings.Networks "${t.network}").IPAddress}}`,
          `${t.service}-${list.release}-${n}`,
        ])).stdout.trim();
        assertEquals((await tryGet(`http://${ip}/`, 2000))?.body, want);
      }
      // recovery put the serving containers back into the proxy
      const viaProxy = await getWithHost(port, `${t.service}.localhost`);
      assertEquals(viaProxy?.body, want);
      const cli = await t.cli("server", "list");
      assertEquals(cli.code, 0, cli.stderr);
      assert(
        new RegExp(`${t.service}\\s+service\\s+${list.release}\\s+running`)
          .test(
            cli.stdout,
          ),
        cli.stdout,
      );
    } finally {
      client.close();
    }
  });
}

Deno.test("e2e daemon: server deploy exits 0 on success, 1 on a failed build, 2 on bad input; rollback needs no build", async () => {
  await using t = await daemonEnv();
  await t.start();
  await writeHttpdApp(t.app, {
    body: "v1",
    comments: [
      `service=${t.service}`,
      "healthcheck=/health 200ms 200ms",
      "env=API_TOKEN",
    ],
  });
  const ok = await t.cli("server", "deploy", t.app);
  assertEquals(ok.code, 0, ok.stderr + ok.stdout);
  assert(ok.stdout.includes(`deploy ok: ${t.service} release 1`), ok.stdout);
  const env = (await docker([
    "inspect",
    "-f",
    "{{json .Config.Env}}",
    `${t.service}-1-1`,
  ])).stdout;
  assert(env.includes('"API_TOKEN=t0ken"'), env);
  await writeHttpdApp(t.app, {
    body: "v2",
    comments: [`service=${t.service}`],
    extra: ["RUN exit 3"],
  });
  const failed = await t.cli("server", "deploy", t.app);
  assertEquals(failed.code, 1, failed.stderr + failed.stdout);
  assert(failed.stderr.includes("build failed"), failed.stderr);
  assert(failed.stdout.includes("exit 3"), failed.stdout);
  await writeHttpdApp(t.app, {
    body: "v2",
    comments: [`service=${t.service}`, "scale=sometimes"],
  });
  const bad = await t.cli("server", "deploy", t.app);
  assertEquals(bad.code, 2, bad.stderr);
  assert(bad.stderr.includes("mypaas.scale"), bad.stderr);
  await writeHttpdApp(t.app, {
    body: "v2",
    comments: [`service=${t.service}`, "healthcheck=/health 200ms 200ms"],
  });
  assertEquals((await t.cli("server", "deploy", t.app)).code, 0);
  const rb = await t.cli("server", "rollback", t.service);
  assertEquals(rb.code, 0, rb.stderr);
  assert(
    rb.stdout.includes("(no build)") && !rb.stdout.includes("Step "),
    rb.stdout,
  );
  const ip = (await docker([
    "inspect",
    "-f",
    `{{(index .NetworkSettings.Networks "${t.network}").IPAddress}}`,
    `${t.service}-1-1`,
  ])).stdout.trim();
  assertEquals((await tryGet(`http://${ip}/`))?.body, "v1");
  const logs = await t.cli("server", "logs", t.service);
  assertEquals(logs.code, 0, logs.stderr);
  const gone = await t.cli("server", "remove", "no-such-service");
  assertEquals(gone.code, 2, gone.stderr);
  const rm = await t.cli("server", "remove", t.service);
  assertEquals(rm.code, 0, rm.stderr);
  assertEquals(
    (await docker(["ps", "-aq", "--filter", `label=mypaas.owner=${t.network}`]))
      .stdout.trim(),
    "",
  );
});

Deno.test("e2e daemon: through the daemon's own proxy, a rolling redeploy answers every request", async () => {
  const port = freePort();
  await using t = await daemonEnv({ httpPort: port });
  await t.start();
  const host = `${t.service}.localhost`;
  const cm = [
    `service=${t.service}`,
    `url=http://${host}`,
    "scale=roll 2",
    "healthcheck=/health 200ms 200ms",
  ];
  const client = new ControlClient(t.socket);
  try {
    await writeHttpdApp(t.app, { body: "v1", comments: cm });
    assert((await client.deploy(t.app, {}, () => {})).ok);
    assertEquals((await getWithHost(port, host))?.body, "v1");
    await writeHttpdApp(t.app, { body: "v2", comments: cm });
    let done = false;
    const seen = new Map<string, number>();
    const poll = (async () => {
      const end = Date.now() + 60_000;
      while (!done && Date.now() < end) {
        const r = await getWithHost(port, host);
        const key = r ? `${r.status} ${r.body}` : "no answer";
        seen.set(key, (seen.get(key) ?? 0) + 1);
      }
    })();
    const res = await client.deploy(t.app, {}, () => {});
    done = true;
    await poll;
    assert(res.ok, res.error);
    const total = [...seen.values()].reduce((a, b) => a + b, 0);
    assert(total > 10, `only ${total} requests`);
    assertEquals(
      [...seen.keys()].filter((k) => k !== "200 v1" && k !== "200 v2"),
      [],
    );
    assertEquals((await getWithHost(port, host))?.body, "v2");
  } finally {
    client.close();
  }
});

Deno.test("e2e daemon: starts without a reachable Docker engine and says so when asked for containers", async () => {
  await using t = await daemonEnv({ dockerSocket: "/nonexistent/docker.sock" });
  await t.start();
  const list = await t.cli("server", "list");
  assertEquals(list.code, 0, list.stderr);
  await writeHttpdApp(t.app, {
    body: "v1",
    comments: [`service=${t.service}`],
  });
  const res = await t.cli("server", "deploy", t.app);
  assertEquals(res.code, 1, res.stderr);
  assert(
    res.stderr.includes("/nonexistent/docker.sock does not answer"),
    res.stderr,
  );
  assert(t.logs.join("").includes("container services are unavailable"));
});
