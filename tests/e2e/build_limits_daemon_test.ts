/**
 * Issue 25.1 end to end: a daemon started from a config.toml that sets
 * `[docker] build_cpus`, `build_memory` and `build_timeout`, and real
 * `mypaas push`es over loopback HTTP. A RUN step reads its own cgroup (cgroup
 * v1 here: cpu.shares, cpu.cfs_quota_us, memory.limit_in_bytes, and its place
 * under the idle parent /mypaas-builds), a step that
 * allocates past build_memory fails the push naming the limit, a second push
 * says it waits for the first, and build_timeout (set by a SIGHUP reload)
 * stops a slow build; the serving release answers through the proxy before
 * and after each failure.
 */
import { assert, assertEquals, assertStringIncludes } from "../_push_assert.ts";
import {
  docker,
  ensureBusyboxImage,
  getWithHost,
  removeByLabel,
  removeImages,
  requireDocker,
  uniqueName,
  writeHttpdApp,
} from "./_images.ts";
import { DaemonProcess, freePort } from "./_daemon.ts";
import { DENO_DIR, type MainOutput, ROOT, runMain } from "../_run_main.ts";
import { until } from "../_until.ts";

const BUILD_MEMORY = 48 << 20;

/** `main.ts push ...` as a process whose output can be watched as it comes. */
function spawnPush(server: string, app: string, home: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "push", server, app],
    cwd: ROOT,
    env: { DENO_DIR, NO_COLOR: "1", HOME: home },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out: string[] = [];
  const err: string[] = [];
  const read = async (s: ReadableStream<Uint8Array>, into: string[]) => {
    const dec = new TextDecoder();
    for await (const c of s) into.push(dec.decode(c, { stream: true }));
  };
  const done: Promise<MainOutput> = Promise.all([
    read(child.stdout, out),
    read(child.stderr, err),
    child.status,
  ]).then(([, , st]) => ({
    code: st.code,
    stdout: out.join(""),
    stderr: err.join(""),
  }));
  return { text: () => out.join("") + err.join(""), done };
}

/** Running containers whose command holds `marker` (a build's RUN step). */
async function runContainersWith(marker: string): Promise<string[]> {
  const ps = await docker([
    "ps",
    "--no-trunc",
    "--format",
    "{{.ID}} {{.Command}}",
  ]);
  return ps.stdout.split("\n").filter((l) => l.includes(marker)).map((l) =>
    l.split(" ")[0]!
  );
}

Deno.test("e2e push: builds run under the config's build_cpus/build_memory, are killed past build_memory, queue one at a time and stop at build_timeout; the serving release keeps serving", async () => {
  await requireDocker();
  await ensureBusyboxImage();
  const dir = await Deno.makeTempDir({ prefix: "mypaas-buildlim-e2e-" });
  const network = uniqueName("mypaas-buildlim");
  const web = uniqueName("web");
  const other = uniqueName("other");
  const data = `${dir}/data`;
  const home = `${dir}/home`;
  const port = freePort();
  const host = `${web}.localhost`;
  const configFile = `${dir}/config.toml`;
  const config = (timeout: string) =>
    `[server]
domain = "127.0.0.1"
data_dir = "${data}"
bind = "127.0.0.1"
http_port = ${port}
https_port = 0
control_socket = "${dir}/ctl.sock"
[docker]
network = "${network}"
volume_root = "${dir}/volumes"
build_cpus = 0.5
build_memory = "48m"
build_timeout = "${timeout}"
[proxy]
drain_timeout = "200ms"
[isolates]
min_workers = 0
`;
  const daemon = new DaemonProcess(configFile);
  /** Lets a held RUN step finish (also when the test fails midway). */
  let release = () => Promise.resolve();
  try {
    await Deno.mkdir(data, { recursive: true });
    await Deno.mkdir(home);
    await Deno.writeTextFile(configFile, config("10m"));
    const gen = await runMain(["key-gen"], { HOME: home });
    assertEquals(gen.code, 0, gen.stderr);
    const pub = gen.stdout.split("\n").find((l) =>
      l.startsWith("ed25519-pub-")
    );
    assert(pub, gen.stdout);
    await Deno.writeTextFile(`${data}/authorized_keys`, `${pub} e2e\n`);
    daemon.start();
    await daemon.waitFor(
      "the daemon API",
      async () =>
        (await getWithHost(port, "127.0.0.1", "/daemon/time"))?.status === 200,
    );
    const server = `http://127.0.0.1:${port}`;
    const push = (app: string) =>
      runMain(["push", server, app], { HOME: home });
    const app = (name: string, body: string, extra: string[] = []) => {
      const d = `${dir}/${name}-${crypto.randomUUID().slice(0, 6)}`;
      return writeHttpdApp(d, {
        body,
        comments: [
          `service=${name}`,
          ...(name === web ? [`url=http://${host}/`] : []),
          "healthcheck=/health 1s 1s",
        ],
        extra,
      }).then(() => d);
    };
    const serves = async (body: string) =>
      assertEquals(
        (await getWithHost(port, host, "/", 5000))?.body,
        body,
        daemon.output,
      );

    // (a) v1, whose RUN step prints the limits of its own cgroup
    const cg = "/sys/fs/cgroup";
    const v1 = await push(
      await app(web, "v1", [
        `RUN echo "cgroup-limits: shares=$(cat ${cg}/cpu/cpu.shares) quota=$(cat ${cg}/cpu/cpu.cfs_quota_us) period=$(cat ${cg}/cpu/cpu.cfs_period_us) memory=$(cat ${cg}/memory/memory.limit_in_bytes) in=$(grep :cpu: /proc/self/cgroup)"`,
      ]),
    );
    assertEquals(v1.code, 0, `${v1.stdout}\n${v1.stderr}\n${daemon.output}`);
    const m =
      /cgroup-limits: shares=(\d+) quota=(-?\d+) period=(\d+) memory=(\d+) in=\d+:cpu:(\S+)/
        .exec(v1.stdout);
    assert(m, v1.stdout);
    assertEquals(
      {
        shares: m[1],
        quota: m[2],
        period: m[3],
        memory: m[4],
        parent: m[5]!.split("/").slice(0, -1).join("/"),
      },
      {
        shares: "2",
        quota: "50000",
        period: "100000",
        memory: String(BUILD_MEMORY),
        parent: "/mypaas-builds",
      },
      "the RUN step's cgroup does not hold the config's build limits",
    );
    // the builds' parent runs only on idle CPU (SCHED_IDLE, Linux 5.15+)
    assertEquals(
      (await Deno.readTextFile("/sys/fs/cgroup/cpu/mypaas-builds/cpu.idle"))
        .trim(),
      "1",
    );
    assertStringIncludes(
      daemon.output,
      "builds run in /sys/fs/cgroup/cpu/mypaas-builds with cpu.idle 1",
    );
    await serves("v1");

    // (b) a RUN step that holds 200 MB in a shell variable, past 48m
    const oom = await push(
      await app(web, "v2", [
        "RUN x=$(head -c 200000000 /dev/urandom); echo kept ${#x} bytes",
      ]),
    );
    assertEquals(oom.code, 1, `${oom.stdout}\n${oom.stderr}`);
    const said = oom.stdout + oom.stderr;
    assertStringIncludes(said, "build killed for memory");
    assertStringIncludes(said, "48m ([docker] build_memory");
    assert(!said.includes("kept 200000000 bytes"), said);
    await serves("v1");

    // (c) two pushes at once: the second says whose build it waits for
    const marker = `hold-${crypto.randomUUID().slice(0, 8)}`;
    const first = spawnPush(
      server,
      await app(other, "o1", [
        `RUN while [ ! -e /tmp/${marker} ]; do sleep 0.05; done`,
      ]),
      home,
    );
    let held: string[] = [];
    await until(
      async () => (held = await runContainersWith(marker)).length > 0,
      {
        what: "the first push's RUN step to run",
        timeoutMs: 60_000,
        intervalMs: 100,
        detail: () => first.text() + daemon.output,
      },
    );
    release = async () => {
      for (const id of await runContainersWith(marker)) {
        await docker(["exec", id, "touch", `/tmp/${marker}`], {
          allowFail: true,
        });
      }
    };
    const second = spawnPush(server, await app(web, "v3"), home);
    await until(
      () => second.text().includes(`waiting for the build of ${other}`),
      {
        what: "the second push to say it waits",
        timeoutMs: 30_000,
        intervalMs: 50,
        detail: () => second.text(),
      },
    );
    assert(!second.text().includes("Step 1/"), second.text());
    assertEquals(held.length, 1, "one build at a time");
    await release();
    const [r1, r2] = await Promise.all([first.done, second.done]);
    assertEquals(r1.code, 0, `${r1.stdout}\n${r1.stderr}`);
    assertEquals(r2.code, 0, `${r2.stdout}\n${r2.stderr}`);
    assert(
      r2.stdout.indexOf(`waiting for the build of ${other}`) <
        r2.stdout.indexOf("Step 1/"),
      r2.stdout,
    );
    await serves("v3");

    // (d) build_timeout = 3s by a SIGHUP reload: a slow build is stopped
    const reloaded = daemon.output.split("config reloaded").length;
    await Deno.writeTextFile(configFile, config("3s"));
    daemon.kill("SIGHUP");
    await daemon.waitFor(
      "the reload",
      () =>
        Promise.resolve(
          daemon.output.split("config reloaded").length > reloaded,
        ),
    );
    const slow = `slow-${crypto.randomUUID().slice(0, 8)}`;
    const late = await push(await app(web, "v4", [`RUN sleep 20 # ${slow}`]));
    assertEquals(late.code, 1, `${late.stdout}\n${late.stderr}`);
    assertStringIncludes(
      late.stdout + late.stderr,
      "did not finish within [docker] build_timeout = 3s",
    );
    await until(async () => (await runContainersWith(slow)).length === 0, {
      what: "the stopped build's RUN container to go",
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    await serves("v3");
  } catch (err) {
    // deno-lint-ignore no-console
    console.error(daemon.output);
    throw err;
  } finally {
    await release();
    await daemon.stop();
    await removeByLabel(`mypaas.owner=${network}`);
    await removeImages(`mypaas/${web}`);
    await removeImages(`mypaas/${other}`);
    await docker(["network", "rm", network], { allowFail: true });
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
