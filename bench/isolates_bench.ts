// deno-lint-ignore-file no-console
/**
 * Isolate benchmarks (issue 6): cold start with a warm pool, warm throughput
 * against bare Deno.serve (through the daemon's real proxy front, with the
 * floor of any out-of-process design beside it) and push to first 200.
 * Density is bench/isolates_density_bench.ts. Loopback only; every loop is
 * bounded.
 *
 * Run alone: `deno run -A bench/isolates_bench.ts`; `bench/run.ts` calls run().
 */
import { makeLogger, silentLogger } from "../lib/log.ts";
import { denyNetList } from "../lib/isolates/net_policy.ts";
import { IsolatePool, type PoolOptions } from "../lib/isolates/pool.ts";
import { FunctionsPlatform } from "../lib/daemon/functions.ts";
import { resolveConfig } from "../lib/config/mod.ts";
import { ProxyServer, Router } from "../lib/proxy/mod.ts";
import { frame, readFrames } from "./_ipc_floor.ts";

const RUNTIME = new URL("../lib/isolates/runtime", import.meta.url).pathname;
const HANDLER = `export default { fetch: () => new Response("hello world") };`;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN;
}
const ms = (x: number) => `${x.toFixed(2)} ms`;

async function makePool(dir: string, over: Partial<PoolOptions> = {}) {
  await Deno.mkdir(`${dir}/bundles`, { recursive: true });
  const pool = new IsolatePool({
    minWorkers: 8,
    maxWorkers: 64,
    freePoolRatio: 0.5,
    idleTimeoutMs: 600_000,
    isolatesPerProcess: 4,
    cpuPctTarget: 1.1,
    memPctTarget: 1.1,
    wallLimitMs: 10_000,
    concurrency: 64,
    queueTimeoutMs: 10_000,
    hostLoad: () => ({ cpu: 0, mem: 0 }),
    log: Deno.env.get("BENCH_DEBUG")
      ? makeLogger("bench", "debug")
      : silentLogger,
    ...over,
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
      v8Flags: (Deno.env.get("BENCH_V8_FLAGS") ?? "").split(",").filter(
        Boolean,
      ),
    },
  });
  await pool.start();
  let n = 0;
  const artifact = async (source = HANDLER) => {
    const path = `${dir}/bundles/b${++n}.js`;
    await Deno.writeTextFile(path, source);
    return { key: `bench${n}@1`, url: `file://${path}`, env: {} };
  };
  return { pool, artifact };
}

async function coldStart(dir: string): Promise<void> {
  const { pool, artifact } = await makePool(`${dir}/cold`);
  try {
    const times: number[] = [];
    for (let i = 0; i < 60; i++) {
      const target = await artifact();
      await pool.settled();
      const t0 = performance.now();
      const res = await pool.dispatch(target, new Request("http://b.test/"), {
        clientIp: "127.0.0.1",
      });
      await res.text();
      times.push(performance.now() - t0);
      if (res.status !== 200) throw new Error(`cold start got ${res.status}`);
      pool.retire(target.key);
    }
    const p50 = pct(times, 0.5), p99 = pct(times, 0.99);
    console.log(
      `cold start (warm pool, never-run deployment): p50 ${
        ms(p50)
      } (goal <= 10, ratio ${(p50 / 10).toFixed(2)}), p99 ${
        ms(p99)
      } (goal <= 50, ratio ${(p99 / 50).toFixed(2)})`,
    );
  } finally {
    await pool.stop();
  }
}

/** utime + stime of a process, in seconds (Linux /proc). */
function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** wrk -t1 -c32 for `seconds`: requests per second and requests done. */
async function wrk(
  port: number,
  seconds: number,
): Promise<{ rps: number; n: number }> {
  const out = await new Deno.Command("wrk", {
    args: [
      "-t1",
      "-c32",
      `-d${seconds}s`,
      "-H",
      "Host: b.test",
      `http://127.0.0.1:${port}/`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const n = /(\d+) requests in/.exec(text);
  if (!m || !n) throw new Error(`wrk output not understood: ${text}`);
  return { rps: Number(m[1]), n: Number(n[1]) };
}

/** One GET with a Host header (fetch cannot set Host); the raw answer. */
async function rawGet(port: number, host: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(
      `GET / HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`,
    ),
  );
  const text = await new Response(conn.readable).text();
  return text;
}

/** A port's throughput under wrk and the CPU per request of `pids`. */
async function measure(port: number, pids: number[], secs: number) {
  await wrk(port, 1);
  const c0 = pids.map(cpuSeconds);
  const r = await wrk(port, secs);
  const us = pids.map((p, i) => (cpuSeconds(p) - c0[i]!) * 1e6 / r.n);
  return { rps: r.rps, us };
}

/**
 * The floor of any isolate design that keeps user code out of the daemon's
 * process: Deno.serve plus ONE write and ONE read on a Unix socket per
 * request (a length-prefixed frame, no HTTP, no headers), answered by a
 * trivial backend process. Returns its port and a stop function.
 */
async function ipcFloor(dir: string) {
  const path = `${dir}/floor.sock`;
  const backend = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./_ipc_floor.ts", import.meta.url).pathname],
    env: { FLOOR_SOCKET: path },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = backend.stdout.getReader();
  await reader.read(); // "ready"
  const conn = await Deno.connect({ transport: "unix", path });
  const waiting: ((b: Uint8Array<ArrayBuffer>) => void)[] = [];
  void readFrames(conn, (b) => waiting.shift()?.(b));
  const enc = new TextEncoder();
  const front = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      const { promise, resolve } = Promise.withResolvers<
        Uint8Array<ArrayBuffer>
      >();
      waiting.push(resolve);
      void conn.write(frame(enc.encode(req.url)));
      return promise.then((b) => new Response(b));
    },
  );
  return {
    port: front.addr.port,
    backendPid: backend.pid,
    async stop() {
      await front.shutdown();
      conn.close();
      backend.kill();
      await backend.status;
      reader.releaseLock();
      await backend.stdout.cancel().catch(() => {});
    },
  };
}

/**
 * Bare Deno.serve and the isolate path in the same run, same handler, same
 * wrk settings (-t1 -c32, 1 s warm-up each), measured bare, isolate, floor,
 * bare (bare = the mean: the host's load drifts). The isolate path is the
 * daemon's real front: ProxyServer (connection guard, limits, routing) ->
 * the function's route -> IsolatePool -> the isolate's Unix socket. CPU per
 * request is per process: this one (the daemon) and the worker processes.
 * The floor (see ipcFloor) bounds what any out-of-process design reaches.
 */
async function throughput(dir: string): Promise<void> {
  const secs = Number(Deno.env.get("BENCH_SECONDS") ?? 5);
  const bare = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("hello world"),
  );
  const dataDir = `${dir}/warm`;
  const config = resolveConfig(
    `[server]\ndata_dir = "${dataDir}"\n[isolates]\ncluster_cpu_pct_target = 1.0\ncluster_memory_pct_target = 1.0\n`,
    { home: dataDir },
  );
  const router = new Router();
  const platform = new FunctionsPlatform(config, {
    log: silentLogger,
    denoPath: Deno.execPath(),
    routes: router,
  });
  await platform.start();
  const proxy = new ProxyServer({
    router,
    config,
    listen: { http: 0, https: false },
  });
  await proxy.start();
  const floor = await ipcFloor(dir);
  try {
    const r = await platform.deploySingleFile(
      "warm",
      `// mypaas.url=http://b.test\n${HANDLER}`,
      {},
      () => {},
    );
    if (!r.ok) throw new Error(r.error);
    const port = proxy.httpAddr!.port;
    const first = await rawGet(port, "b.test");
    if (!first.endsWith("hello world")) {
      throw new Error(`the function did not answer: ${first}`);
    }
    const workers = platform.pool.processes().map((p) => p.pid!);
    const a1 = await measure(bare.addr.port, [Deno.pid], secs);
    const b = await measure(port, [Deno.pid, ...workers], secs);
    const f = await measure(floor.port, [Deno.pid, floor.backendPid], secs);
    const a2 = await measure(bare.addr.port, [Deno.pid], secs);
    const a = (a1.rps + a2.rps) / 2;
    const bareUs = (a1.us[0]! + a2.us[0]!) / 2;
    const workerUs = b.us.slice(1).reduce((x, y) => x + y, 0);
    console.log(
      `warm throughput: isolate ${b.rps.toFixed(0)} req/s vs bare Deno.serve ${
        a.toFixed(0)
      } req/s: ratio ${
        (b.rps / a).toFixed(2)
      } (goal >= 0.8), wrk -t1 -c32 -d${secs}s, 2 cores shared\n` +
        `  CPU per request: bare ${bareUs.toFixed(1)} us; isolate path ${
          (b.us[0]! + workerUs).toFixed(1)
        } us = daemon ${b.us[0]!.toFixed(1)} + worker process ${
          workerUs.toFixed(1)
        }\n` +
        `  floor of any out-of-process design (Deno.serve + one Unix-socket write and read): ${
          f.rps.toFixed(0)
        } req/s, ratio ${(f.rps / a).toFixed(2)}, CPU ${
          (f.us[0]! + f.us[1]!).toFixed(1)
        } us = front ${f.us[0]!.toFixed(1)} + backend ${f.us[1]!.toFixed(1)}`,
    );
  } finally {
    await floor.stop();
    await proxy.stop();
    await platform.stop();
    await bare.shutdown();
  }
}

async function pushToFirst200(dir: string): Promise<void> {
  const dataDir = `${dir}/push`;
  const config = resolveConfig(
    `[server]\ndata_dir = "${dataDir}"\n[isolates]\ncluster_cpu_pct_target = 1.0\ncluster_memory_pct_target = 1.0\n`,
    { home: dataDir },
  );
  const platform = new FunctionsPlatform(config, {
    log: silentLogger,
    denoPath: Deno.execPath(),
  });
  await platform.start();
  try {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const r = await platform.deploySingleFile(
        `push${i}`,
        `// mypaas.url=http://push${i}.b.test\n${HANDLER}`,
        {},
        () => {},
      );
      if (!r.ok) throw new Error(r.error);
      const info = { remoteAddr: { hostname: "127.0.0.1" } };
      const res = await platform.handleByHost(
        new Request(`http://push${i}.b.test/`),
        info,
      )!;
      await res.text();
      if (res.status !== 200) throw new Error(`first request ${res.status}`);
      times.push(performance.now() - t0);
    }
    const p50 = pct(times, 0.5);
    console.log(
      `push to first 200 (deno bundle + release + load + request): p50 ${
        ms(p50)
      }, max ${ms(Math.max(...times))} (goal <= 1000, ratio ${
        (p50 / 1000).toFixed(2)
      })`,
    );
  } finally {
    await platform.stop();
  }
}

/** Runs the isolate benchmarks (all, or those named) and prints figures. */
export async function run(
  only: string[] = ["cold", "throughput", "push"],
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-isobench-" });
  try {
    console.log(`isolates (deno ${Deno.version.deno})`);
    if (only.includes("cold")) await coldStart(dir);
    if (only.includes("throughput")) await throughput(dir);
    if (only.includes("push")) await pushToFirst200(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  await run(Deno.args.length ? Deno.args : undefined);
}
