// deno-lint-ignore-file no-console
/**
 * Isolate density sweep (issue 6): warm isolates per GiB of worker-process
 * RSS at 16, 32 and 64 isolates per process, with the pool's own spawn (its
 * env and V8 flags) plus BENCH_V8_FLAGS (comma-separated, e.g.
 * `--minor-ms,--lite-mode`). A warm isolate has loaded a distinct
 * deployment and served one request. Also prints the RSS after a short
 * bounded load on 4 of them (hot isolates grow), PSS beside RSS (shared
 * pages once), and first the floor: what an empty Deno Worker costs.
 * Loopback only.
 *
 * Run alone: `deno run -A bench/isolates_density_bench.ts [16 32 64]`.
 */
import { silentLogger } from "../lib/log.ts";
import { denyNetList } from "../lib/isolates/net_policy.ts";
import { IsolatePool, type Target } from "../lib/isolates/pool.ts";

const RUNTIME = new URL("../lib/isolates/runtime", import.meta.url).pathname;
const HANDLER = `export default { fetch: () => new Response("hello world") };`;
/** Warm isolates per run: a multiple of every per-process figure. */
const N = 64;

function rssOf(pid: number): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(text)?.[1] ?? 0) * 1024;
}

/**
 * Proportional set size: pages shared between the worker processes (the
 * deno binary's code, its snapshot) count once in total, not once per
 * process as in RSS.
 */
function pssOf(pid: number): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
  return Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? 0) * 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (b: number) => (b / 2 ** 20).toFixed(1);

async function sweep(dir: string, perProcess: number): Promise<void> {
  await Deno.mkdir(`${dir}/bundles`, { recursive: true });
  const v8Flags = (Deno.env.get("BENCH_V8_FLAGS") ?? "").split(",").filter(
    Boolean,
  );
  const pool = new IsolatePool({
    minWorkers: N,
    maxWorkers: N,
    freePoolRatio: 0,
    idleTimeoutMs: 600_000,
    isolatesPerProcess: perProcess,
    cpuPctTarget: 1.1,
    memPctTarget: 1.1,
    wallLimitMs: 10_000,
    concurrency: 64,
    queueTimeoutMs: 60_000,
    hostLoad: () => ({ cpu: 0, mem: 0 }),
    log: silentLogger,
    process: {
      denoPath: Deno.execPath(),
      runtimeDir: RUNTIME,
      socketDir: `${dir}/sockets`,
      denoDir: `${dir}/deno_dir`,
      readPaths: [`${dir}/bundles`],
      denyNet: denyNetList(),
      memoryLimit: 128 * 2 ** 20,
      cpuLimitMs: 1000,
      loadTimeoutMs: 10_000,
      v8Flags,
    },
  });
  await pool.start();
  try {
    const targets: Target[] = [];
    for (let i = 0; i < N; i++) {
      const path = `${dir}/bundles/b${i}.js`;
      await Deno.writeTextFile(path, HANDLER);
      targets.push({ key: `dens${i}@1`, url: `file://${path}`, env: {} });
    }
    const send = async (t: Target) => {
      const res = await pool.dispatch(t, new Request("http://b.test/"), {
        clientIp: "127.0.0.1",
      });
      await res.text();
      if (res.status !== 200) throw new Error(`density: got ${res.status}`);
    };
    let next = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next < N) await send(targets[next++]!);
    }));
    // Settle: idle isolates still get the watchdog's pings (garbage).
    await sleep(3000);
    const procs = pool.processes();
    const warm = pool.isolates().filter((i) => i.state === "active").length;
    const rss = procs.reduce((s, p) => s + rssOf(p.pid!), 0);
    const pss = procs.reduce((s, p) => s + pssOf(p.pid!), 0);
    // Bounded load on 4 isolates: 2 s, 8 loops.
    const end = performance.now() + 2000;
    let served = 0;
    await Promise.all(Array.from({ length: 8 }, async (_, k) => {
      while (performance.now() < end) {
        await send(targets[k % 4]!);
        served++;
      }
    }));
    const hot = procs.reduce((s, p) => s + rssOf(p.pid!), 0);
    const perGiB = warm / (rss / 2 ** 30);
    console.log(
      `density ${perProcess}/process${
        v8Flags.length ? ` [${v8Flags.join(" ")}]` : ""
      }: ${warm} warm in ${procs.length} processes, ${mib(rss)} MiB RSS = ${
        mib(rss / warm)
      } MiB each, ${perGiB.toFixed(0)} per GiB (goal >= 200, ratio ${
        (perGiB / 200).toFixed(2)
      }); PSS ${mib(pss)} MiB = ${
        (warm / (pss / 2 ** 30)).toFixed(0)
      } per GiB; after ${served} requests on 4 of them: ${mib(hot)} MiB RSS`,
    );
  } finally {
    await pool.stop();
  }
}

/**
 * What one Deno Worker costs with no code at all, with the worker processes'
 * flags: the floor of any design that gives each deployment a Worker.
 */
async function workerFloor(): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--minor-ms",
      new URL("./_worker_floor.ts", import.meta.url).pathname,
      "32",
    ],
    stdout: "piped",
  }).output();
  const r = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    n: number;
    before: number;
    after: number;
  };
  const each = (r.after - r.before) / r.n;
  console.log(
    `floor: an empty Deno ${Deno.version.deno} Worker costs ${
      mib(each)
    } MiB RSS (${r.n} in one process): at most ${
      (2 ** 30 / each).toFixed(0)
    } per GiB for one Worker per deployment, with no process overhead at all`,
  );
}

/** Runs the sweep (per-process figures from the arguments or 16, 32, 64). */
export async function run(sizes: number[] = [16, 32, 64]): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-densbench-" });
  try {
    await workerFloor();
    for (const n of sizes) await sweep(`${dir}/p${n}`, n);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  await run(Deno.args.length ? Deno.args.map(Number) : undefined);
}
