// deno-lint-ignore-file no-console
/**
 * Build pressure (issue 25.1): does a build starve what is serving? A real
 * daemon (`main.ts server run`, default `[docker]` build limits) serves a
 * busybox httpd service through its proxy; `wrk -t1 -c16` measures it on
 * loopback while another image builds with a RUN step that keeps 4 shell
 * loops busy for up to 20 s:
 *
 * - `cpu`: `while :; do :; done` (pure CPU);
 * - `fork`: a loop that runs `date` on every turn (as npm scripts,
 *   configure and make do: fork, exec, exit).
 *
 * Each variant runs calm, cpu build, calm, fork build, calm; each build is
 * printed as a ratio to the better of the calm runs around it (the machine
 * may be shared, so the adjacent calm is the fair reference, and the better
 * one keeps a disturbed calm run from flattering the ratio; both calm figures
 * are printed, so drift shows):
 *
 * - `none`: `docker build` (classic builder) with no limits: what a build got
 *   before issue 25 (Docker's defaults: cpu.shares 1024, no quota);
 * - `noparent`: `docker build` with the daemon's limits (cpu.shares 2, a
 *   quota of all but one core, memory 2g) in Docker's own `/docker` cgroup;
 * - `daemon`: the build pushed through the daemon (control socket deploy):
 *   the same limits under its idle parent cgroup `/mypaas-builds`
 *   (lib/services/build_cgroup.ts), where Docker and the host allow it;
 * - `cpuset`: `noparent` plus `--cpuset-cpus` pinning the build to the last
 *   core (an alternative the daemon does not apply);
 * - `quota50`: `noparent` with half a core of quota;
 * - `parent`: `noparent` under a parent cgroup at cpu.shares 2, not idle
 *   (cgroup v1 files, written as root and removed after).
 *
 * The build is stopped (its RUN container killed) as soon as its wrk run
 * ends. Loopback only; about 30 s per variant.
 *
 * Run alone: `deno run -A bench/build_starvation.ts [--seconds 5]
 * [--variants none,noparent,daemon]`.
 */
import { ControlClient } from "../lib/api/control_client.ts";
import { BUILD_CPU_SHARES, buildLimits } from "../lib/services/build.ts";
import { DaemonProcess, freePort } from "../tests/e2e/_daemon.ts";
import {
  BUSYBOX_IMAGE,
  docker,
  ensureBusyboxImage,
  getWithHost,
  removeByLabel,
  removeImages,
  uniqueName,
  writeHttpdApp,
} from "../tests/e2e/_images.ts";
import { until } from "../tests/_until.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] ?? fallback : fallback;
}

const SECONDS = Number(flag("seconds", "5"));
const VARIANTS = flag("variants", "none,noparent,daemon").split(",");
const KNOWN = ["none", "noparent", "daemon", "cpuset", "quota50", "parent"];
if (
  !(SECONDS > 0 && SECONDS <= 15) || VARIANTS.some((v) => !KNOWN.includes(v))
) {
  console.error(
    `usage: build_starvation.ts [--seconds 1-15] [--variants ${
      KNOWN.join(",")
    }]`,
  );
  Deno.exit(2);
}

const CORES = navigator.hardwareConcurrency;
/** The parent cgroup of the `parent` and `idle` variants. */
const PARENT = `mypaas-bench-build-${crypto.randomUUID().slice(0, 8)}`;

/** Makes the `parent` variant's cgroup: cpu.shares 2, not idle (v1). */
async function makeParent(): Promise<void> {
  const cpu = `/sys/fs/cgroup/cpu/${PARENT}`;
  await Deno.mkdir(cpu, { recursive: true });
  await Deno.writeTextFile(`${cpu}/cpu.shares`, "2");
}

/** Removes the parent cgroup from every hierarchy Docker made it in. */
async function removeParent(): Promise<void> {
  for await (const h of Deno.readDir("/sys/fs/cgroup")) {
    await Deno.remove(`/sys/fs/cgroup/${h.name}/${PARENT}`).catch(() => {});
  }
}
const LIMITS = buildLimits({ buildCpus: 0, buildMemory: 2 * 1024 ** 3 });

/** The RUN step of each build kind: 4 loops for up to 20 s. */
const LOOPS = {
  cpu: "while :; do :; done",
  fork: "while :; do date >/dev/null; done",
} as const;
type Kind = keyof typeof LOOPS;

function dockerfile(kind: Kind, marker: string): string {
  return `FROM ${BUSYBOX_IMAGE}
# mypaas.service=${marker}
RUN pids=""; for i in 1 2 3 4; do (${
    LOOPS[kind]
  }) & pids="$pids $!"; done; sleep 20; kill $pids; echo ${marker}
`;
}

/** `docker build` flags of a variant that builds through the CLI. */
function cliFlags(variant: string): string[] {
  const daemonLike = [
    `--cpu-shares=${LIMITS.cpuShares}`,
    `--cpu-period=${LIMITS.cpuPeriod}`,
    `--cpu-quota=${LIMITS.cpuQuota}`,
    `--memory=${LIMITS.memory}`,
    `--memory-swap=${LIMITS.memswap}`,
  ];
  switch (variant) {
    case "none":
      return [];
    case "cpuset":
      return [...daemonLike, `--cpuset-cpus=${CORES - 1}`];
    case "noparent":
      return daemonLike;
    case "parent":
      return [...daemonLike, `--cgroup-parent=/${PARENT}`];
    case "quota50":
      return [
        ...daemonLike.filter((f) => !f.startsWith("--cpu-quota")),
        `--cpu-quota=${LIMITS.cpuPeriod / 2}`,
      ];
  }
  throw new Error(`no CLI flags for ${variant}`);
}

interface Wrk {
  rps: number;
  p99ms: number;
  errors: string;
}

async function wrk(port: number, host: string): Promise<Wrk> {
  const out = await new Deno.Command("wrk", {
    args: [
      "-t1",
      "-c16",
      `-d${SECONDS}s`,
      "--latency",
      "-H",
      `Host: ${host}`,
      `http://127.0.0.1:${port}/`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
  const p = /99%\s+([\d.]+)(us|ms|s)\b/.exec(text);
  const p99ms = p
    ? Number(p[1]) * (p[2] === "us" ? 1e-3 : p[2] === "s" ? 1e3 : 1)
    : NaN;
  const errors = /Non-2xx or 3xx responses: \d+|Socket errors: .*/.exec(text)
    ?.[0] ?? "";
  return { rps, p99ms, errors };
}

/** Ids of running containers whose command holds `marker`. */
async function runContainers(marker: string): Promise<string[]> {
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

const dir = await Deno.makeTempDir({ prefix: "mypaas-build-bench-" });
const network = uniqueName("mypaas-bbench");
const web = uniqueName("hello");
const host = `${web}.localhost`;
const port = freePort();
const socket = `${dir}/ctl.sock`;
const configFile = `${dir}/config.toml`;
const builders: string[] = [];
await ensureBusyboxImage();
await Deno.writeTextFile(
  configFile,
  `[server]
domain = "127.0.0.1"
data_dir = "${dir}/data"
control_socket = "${socket}"
bind = "127.0.0.1"
http_port = ${port}
https_port = 0
[docker]
network = "${network}"
volume_root = "${dir}/volumes"
[isolates]
min_workers = 0
`,
);
const daemon = new DaemonProcess(configFile);
const client = new ControlClient(socket);

/** Starts a build of `kind` in `variant`; resolves once its RUN step runs. */
async function startBuild(variant: string, kind: Kind) {
  const marker = uniqueName(`bb-${kind}`);
  builders.push(marker);
  const app = `${dir}/${marker}`;
  await Deno.mkdir(app);
  await Deno.writeTextFile(`${app}/Dockerfile`, dockerfile(kind, marker));
  let done: Promise<unknown>;
  if (variant === "daemon") {
    const lines: string[] = [];
    done = client.deploy(app, {}, (l) => lines.push(l)).catch((e) => e);
  } else {
    done = new Deno.Command("docker", {
      args: [
        "build",
        "--rm",
        "--force-rm",
        "-t",
        `mypaas/${marker}:1`,
        ...cliFlags(variant),
        app,
      ],
      env: { DOCKER_BUILDKIT: "0" },
      stdout: "null",
      stderr: "null",
    }).output();
  }
  await until(async () => (await runContainers(marker)).length > 0, {
    what: `the ${kind} build's RUN step (${variant})`,
    timeoutMs: 60_000,
    intervalMs: 100,
  });
  return {
    async stop() {
      for (const id of await runContainers(marker)) {
        await docker(["kill", id], { allowFail: true });
      }
      await done;
      await removeImages(`mypaas/${marker}`);
    },
  };
}

/** The RUN container's cgroup limits, read from the host (cgroup v1). */
async function limitsOf(marker: string): Promise<string> {
  const [id] = await runContainers(marker);
  if (!id) return "?";
  const read = (p: string) =>
    Deno.readTextFile(`/sys/fs/cgroup/${p}`).then((s) => s.trim()).catch(
      () => "?",
    );
  const [full, parent] = (await docker([
    "inspect",
    "-f",
    "{{.Id}} {{.HostConfig.CgroupParent}}",
    id,
  ])).stdout.trim().split(" ");
  const at = `${(parent || "/docker").replace(/^\//, "")}/${full}`;
  const idle = parent
    ? `, parent cpu.idle ${await read(
      `cpu${parent}/cpu.idle`,
    )} cpu.shares ${await read(`cpu${parent}/cpu.shares`)}`
    : "";
  return `cpu.shares ${await read(`cpu/${at}/cpu.shares`)}, quota ${await read(
    `cpu/${at}/cpu.cfs_quota_us`,
  )}, cpuset ${await read(`cpuset/${at}/cpuset.cpus`)}${idle}`;
}

const fmt = (n: number) => n.toFixed(0).padStart(6);
try {
  daemon.start();
  await daemon.waitFor("the daemon", async () => {
    await client.list();
    return true;
  });
  const app = `${dir}/web`;
  await writeHttpdApp(app, {
    body: "hello\n",
    comments: [
      `service=${web}`,
      `url=http://${host}/`,
      "healthcheck=/health 1s 1s",
    ],
  });
  const res = await client.deploy(app, {}, () => {});
  if (!res.ok) throw new Error(`deploy of the hello service: ${res.error}`);
  if ((await getWithHost(port, host))?.body !== "hello\n") {
    throw new Error("the hello service does not answer through the proxy");
  }
  await wrk(port, host); // warm-up
  console.log(
    `build starvation: ${CORES} cores, wrk -t1 -c16 -d${SECONDS}s through the daemon's proxy to busybox httpd; daemon build limits: cpu.shares ${BUILD_CPU_SHARES}, quota ${
      LIMITS.cpuQuota / LIMITS.cpuPeriod
    } core(s), memory ${LIMITS.memory / 2 ** 30}g; load average ${
      (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(
        " ",
      )
    }`,
  );
  const summary: string[] = [];
  for (const variant of VARIANTS) {
    const ratios: string[] = [];
    if (variant === "parent") await makeParent();
    let calm = await wrk(port, host);
    for (const kind of ["cpu", "fork"] as const) {
      const build = await startBuild(variant, kind);
      const seen = await limitsOf(builders.at(-1)!);
      let busy: Wrk;
      try {
        busy = await wrk(port, host);
      } finally {
        await build.stop();
      }
      const after = await wrk(port, host);
      const ratio = busy.rps / Math.max(calm.rps, after.rps);
      ratios.push(`${kind} ${ratio.toFixed(2)}x`);
      console.log(
        `${variant.padEnd(8)} ${kind.padEnd(5)} calm ${fmt(calm.rps)}/${
          fmt(after.rps).trim()
        } req/s (p99 ${calm.p99ms.toFixed(1)} ms)  during build ${
          fmt(busy.rps)
        } req/s (p99 ${busy.p99ms.toFixed(1)} ms)  ratio ${
          ratio.toFixed(2)
        }x  [${seen}]${busy.errors ? `  ${busy.errors}` : ""}`,
      );
      calm = after;
    }
    summary.push(`${variant}: ${ratios.join(", ")}`);
  }
  console.log(`ratios to calm (goal >= 0.80x): ${summary.join("; ")}`);
} finally {
  client.close();
  await daemon.stop();
  await removeByLabel(`mypaas.owner=${network}`);
  await removeImages(`mypaas/${web}`);
  for (const b of builders) await removeImages(`mypaas/${b}`);
  await docker(["network", "rm", network], { allowFail: true });
  await removeParent();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
