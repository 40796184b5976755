// deno-lint-ignore-file no-console
/**
 * The isolate pool with many functions (issue 22), through a real daemon
 * (`main.ts server run` on the default `[isolates]`, deploys over the
 * control socket, requests through its proxy by `x-deno-deploy-id`):
 * deploys N small functions one after another, then requests each once in
 * random order with 1, 4 and 16 clients. Prints deploys/s and failed
 * deploys, the daemon's RSS per 100 idle deployments, and per client count
 * the first-request p50/p99, the 503s and the evictions. Loopback only.
 *
 * Run alone: `deno run -A bench/pool_scale.ts [--n 500] [--clients 1,4,16]`.
 */
import { ControlClient } from "../lib/api/control_client.ts";
import type { DeploymentStatus } from "../lib/daemon/platform.ts";
import { DaemonProcess, freePort } from "../tests/e2e/_daemon.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] ?? fallback : fallback;
}

const N = Number(flag("n", "500"));
const CLIENTS = flag("clients", "1,4,16").split(",").map(Number);
if (!(N > 0) || CLIENTS.some((c) => !(c > 0))) {
  console.error("usage: pool_scale.ts [--n N] [--clients 1,4,16]");
  Deno.exit(2);
}

const rssOf = (pid: number) =>
  Number(
    /VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))
      ?.[1] ?? 0,
  ) * 1024;
const mib = (b: number) => (b / 2 ** 20).toFixed(1);
const pct = (xs: number[], p: number) =>
  xs.length ? xs[Math.min(xs.length - 1, Math.floor(xs.length * p))]! : NaN;
const evictions = (l: DeploymentStatus[]) =>
  l.reduce((n, s) => n + (s.pool?.evictions ?? 0), 0);

const dir = await Deno.makeTempDir({ prefix: "mypaas-pool-bench-" });
const port = freePort();
const socket = `${dir}/ctl.sock`;
await Deno.writeTextFile(
  `${dir}/config.toml`,
  `[server]
data_dir = "${dir}/data"
control_socket = "${socket}"
bind = "127.0.0.1"
http_port = ${port}
https_port = 0
[docker]
network = "mypaas-pool-bench"
`,
);
const daemon = new DaemonProcess(`${dir}/config.toml`);
const child = daemon.start();
const client = new ControlClient(socket);
try {
  await daemon.waitFor("the daemon", async () => {
    await client.list();
    return true;
  });
  const names = Array.from({ length: N }, (_, i) => `b${i}`);
  const src = `${dir}/src`;
  await Deno.mkdir(src);
  const rss0 = rssOf(child.pid);
  let failed = 0;
  const t0 = performance.now();
  for (const name of names) {
    await Deno.writeTextFile(
      `${src}/main.ts`,
      `// mypaas.service=${name}\n// mypaas.url=http://${name}.fn.test\n` +
        `export default { fetch: () => new Response("hi") };\n`,
    );
    const r = await client.deploy(src, { skipOptimize: true }, () => {});
    if (!r.ok) {
      failed++;
      console.log(`deploy ${name} failed: ${r.error}`);
    }
  }
  const secs = (performance.now() - t0) / 1000;
  const rss1 = rssOf(child.pid);
  console.log(
    `${N} deploys: ${(N / secs).toFixed(1)}/s, ${failed} failed; daemon RSS ${
      mib(rss0)
    } -> ${mib(rss1)} MiB, ${
      mib((rss1 - rss0) / N * 100)
    } MiB per 100 idle deployments`,
  );
  console.log("clients  first-request p50   p99      503s  evictions");
  for (const c of CLIENTS) {
    const order = [...names].sort(() => Math.random() - 0.5);
    const before = evictions(await client.list());
    const times: number[] = [];
    let busy = 0, next = 0;
    await Promise.all(Array.from({ length: c }, async () => {
      while (next < order.length) {
        const name = order[next++]!;
        const t = performance.now();
        const res = await fetch(`http://127.0.0.1:${port}/`, {
          headers: { "x-deno-deploy-id": name },
        });
        await res.body?.cancel();
        times.push(performance.now() - t);
        if (res.status === 503) busy++;
      }
    }));
    times.sort((a, b) => a - b);
    const ev = evictions(await client.list()) - before;
    console.log(
      `${String(c).padStart(7)}  ${
        pct(times, 0.5).toFixed(1).padStart(10)
      } ms ${pct(times, 0.99).toFixed(1).padStart(7)} ms ${
        String(busy).padStart(5)
      }  ${String(ev).padStart(9)}`,
    );
  }
} finally {
  client.close();
  await daemon.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
