// deno-lint-ignore-file no-console
/**
 * Proxy benchmarks (issue 4), loopback only, bounded: wrk for a few seconds
 * against the mypaas proxy, nginx (one worker, upstream keep-alive) and
 * caddy `reverse_proxy`, all in front of the SAME backend: an nginx worker
 * answering a 12-byte body (`return 200`), so the proxies, not the backend,
 * are measured. Then HTTPS against caddy (self-signed certificate made with
 * openssl here), and 1 host against 1000 hosts in our route table.
 *
 * Run alone: `deno run -A bench/proxy_bench.ts`.
 */

import { RouteTable } from "../lib/proxy/route_table.ts";

/** ns per RouteTable.lookup() with `hosts` hosts (in-process, no I/O). */
function lookupNs(hosts: number): number {
  let table = new RouteTable<string, string>();
  for (let i = 0; i < hosts; i++) {
    const host = i === 0 ? "bench.test" : `host-${i}.bench.test`;
    table = table.withOwner(`s${i}`, [{
      owner: `s${i}`,
      host,
      path: "/",
      scheme: "http",
      stripPrefix: false,
      target: { kind: "pool", pool: `s${i}` },
    }]);
  }
  const n = 2_000_000;
  let found = 0;
  for (let round = 0; round < 2; round++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      if (table.lookup("bench.test", "/index.html")) found++;
    }
    if (round === 1) return (performance.now() - t0) * 1e6 / n + found * 0;
  }
  return NaN;
}

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 5);
const CONNS = 32;
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);

interface Result {
  rps: number;
  p99ms: number;
  /** CPU time of the measured server process per request (µs). */
  cpuUs?: number;
}

/** utime + stime of a process, in seconds (Linux /proc). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function freePort(): Promise<number> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return await Promise.resolve(port);
}

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error(`Nothing listens on 127.0.0.1:${port} after 5 s`);
}

function toMs(v: string, unit: string): number {
  const n = Number(v);
  return unit === "us" ? n / 1000 : unit === "s" ? n * 1000 : n;
}

async function wrk(url: string, host = "bench.test"): Promise<Result> {
  const out = await new Deno.Command("wrk", {
    args: [
      "-t1",
      `-c${CONNS}`,
      `-d${SECONDS}s`,
      "--latency",
      "-H",
      `Host: ${host}`,
      url,
    ],
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
  const total = Number(/(\d+) requests in/.exec(text)?.[1] ?? NaN);
  const p = /99%\s+([\d.]+)(us|ms|s)/.exec(text);
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(
    text,
  );
  if (errors) console.log(`  wrk ${url}: ${errors[0]}`);
  return { rps, p99ms: p ? toMs(p[1]!, p[2]!) : NaN, cpuUs: total };
}

async function warm(url: string, host = "bench.test"): Promise<void> {
  await new Deno.Command("wrk", {
    args: ["-t1", "-c8", "-d1s", "-H", `Host: ${host}`, url],
    stdout: "null",
  }).output();
}

function start(cmd: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "null",
  }).spawn();
}

async function stop(p: Deno.ChildProcess): Promise<void> {
  try {
    p.kill("SIGTERM");
  } catch { /* gone */ }
  await p.stdout.cancel().catch(() => {});
  await p.status;
}

async function nginx(dir: string, name: string, body: string) {
  const conf = `${dir}/${name}.conf`;
  await Deno.writeTextFile(
    conf,
    `worker_processes 1;
daemon off;
master_process off;
pid ${dir}/${name}.pid;
error_log ${dir}/${name}.err warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/${name}_body;
  proxy_temp_path ${dir}/${name}_proxy;
  fastcgi_temp_path ${dir}/${name}_fcgi;
  uwsgi_temp_path ${dir}/${name}_uwsgi;
  scgi_temp_path ${dir}/${name}_scgi;
  ${body}
}
`,
  );
  return start("nginx", ["-c", conf]);
}

async function readLine(p: Deno.ChildProcess): Promise<string> {
  const reader = p.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const r = await reader.read();
    if (r.done) break;
    text += new TextDecoder().decode(r.value);
  }
  reader.releaseLock();
  return text.trim();
}

async function ours(
  backend: string,
  hosts: number,
  tls?: { cert: string; key: string },
): Promise<{ proc: Deno.ChildProcess; http: number; https: number }> {
  const target = new URL("./_proxy_target.ts", import.meta.url).pathname;
  const proc = start(Deno.execPath(), [
    "run",
    "-A",
    target,
    backend,
    String(hosts),
    ...(tls ? [tls.cert, tls.key] : []),
  ]);
  const [http, https] = (await readLine(proc)).split(" ").map(Number);
  return { proc, http: http!, https: https! };
}

function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}x`;
}

function line(name: string, r: Result): void {
  console.log(
    `  ${name.padEnd(24)} ${r.rps.toFixed(0).padStart(7)} req/s   p99 ${
      r.p99ms.toFixed(2).padStart(6)
    } ms   CPU ${(r.cpuUs ?? NaN).toFixed(0).padStart(4)} µs/req`,
  );
}

/** Runs the proxy benchmarks and prints the figures and ratios. */
export async function run(): Promise<void> {
  console.log(
    `route lookup: 1 host ${lookupNs(1).toFixed(1)} ns, 1000 hosts ${
      lookupNs(1000).toFixed(1)
    } ns (one Map.get, then the host's prefixes)`,
  );
  const dir = await Deno.makeTempDir({ prefix: "proxy_bench_" });
  const procs: Deno.ChildProcess[] = [];
  try {
    const cert = `${dir}/cert.pem`;
    const key = `${dir}/key.pem`;
    const ssl = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=bench.test",
        "-keyout",
        key,
        "-out",
        cert,
      ],
      stderr: "null",
    }).output();
    if (!ssl.success) throw new Error("openssl could not make a certificate");

    const bPort = await freePort();
    const backendProc = await nginx(
      dir,
      "backend",
      `server { listen 127.0.0.1:${bPort}; keepalive_requests 1000000;
          location / { return 200 "hello world\\n"; } }`,
    );
    procs.push(backendProc);
    await waitPort(bPort);
    const backend = `http://127.0.0.1:${bPort}`;

    const nPort = await freePort();
    const nginxProc = await nginx(
      dir,
      "proxy",
      `upstream be { server 127.0.0.1:${bPort}; keepalive 64; }
        server { listen 127.0.0.1:${nPort}; keepalive_requests 1000000;
          location / { proxy_pass http://be; proxy_http_version 1.1;
            proxy_set_header Connection ""; } }`,
    );
    procs.push(nginxProc);
    await waitPort(nPort);

    const cPort = await freePort();
    const csPort = await freePort();
    await Deno.writeTextFile(
      `${dir}/Caddyfile`,
      `{
  admin off
  auto_https off
  storage file_system ${dir}/caddy
}
http://:${cPort} {
  bind 127.0.0.1
  reverse_proxy 127.0.0.1:${bPort}
}
https://:${csPort} {
  bind 127.0.0.1
  tls ${cert} ${key}
  reverse_proxy 127.0.0.1:${bPort}
}
`,
    );
    const caddy = new Deno.Command("caddy", {
      args: ["run", "--config", `${dir}/Caddyfile`, "--adapter", "caddyfile"],
      env: { HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
      stdout: "piped",
      stderr: "null",
    }).spawn();
    procs.push(caddy);
    await waitPort(cPort);
    await waitPort(csPort);

    const one = await ours(backend, 1, { cert, key });
    procs.push(one.proc);
    await waitPort(one.http);

    console.log(
      `wrk -t1 -c${CONNS} -d${SECONDS}s, best of ${ROUNDS}, backend: nginx 'return 200' on loopback, 2 cores shared by wrk, proxy and backend`,
    );
    const many = await ours(backend, 1000);
    procs.push(many.proc);
    await waitPort(many.http);

    // Every round runs every target once, so load from elsewhere on the
    // host spreads over all of them; each keeps its best round.
    const targets: [string, number, string][] = [
      ["direct backend", backendProc.pid, `${backend}/`],
      ["mypaas (1 host)", one.proc.pid, `http://127.0.0.1:${one.http}/`],
      ["mypaas (1000 hosts)", many.proc.pid, `http://127.0.0.1:${many.http}/`],
      ["nginx (1 worker)", nginxProc.pid, `http://127.0.0.1:${nPort}/`],
      ["caddy reverse_proxy", caddy.pid, `http://127.0.0.1:${cPort}/`],
      ["caddy https", caddy.pid, `https://127.0.0.1:${csPort}/`],
      ["mypaas https", one.proc.pid, `https://127.0.0.1:${one.https}/`],
    ];
    const results: Record<string, Result> = {};
    for (const [, , url] of targets) await warm(url);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, pid, url] of targets) {
        // let the previous target settle (Go's GC, closing sockets)
        await new Promise((r) => setTimeout(r, 1000));
        const c0 = await cpuSeconds(pid);
        const r = await wrk(url);
        const used = await cpuSeconds(pid) - c0;
        r.cpuUs = used * 1e6 / r.cpuUs!;
        const best = results[name];
        if (!best || r.rps > best.rps) results[name] = r;
      }
    }
    for (const [name] of targets) line(name, results[name]!);

    const r = (k: string) => results[k]!;
    const ourHttp = r("mypaas (1 host)");
    console.log("\nratios (goal in brackets):");
    console.log(
      `  throughput vs nginx   ${
        ratio(ourHttp.rps, r("nginx (1 worker)").rps)
      }  [>= 1.0x]   p99 ${ourHttp.p99ms.toFixed(2)} vs ${
        r("nginx (1 worker)").p99ms.toFixed(2)
      } ms [no worse]`,
    );
    console.log(
      `  throughput vs caddy   ${
        ratio(ourHttp.rps, r("caddy reverse_proxy").rps)
      }  [>= 2.0x]`,
    );
    console.log(
      `  https vs caddy        ${
        ratio(r("mypaas https").rps, r("caddy https").rps)
      }  [>= 2.0x]`,
    );
    const drift = r("mypaas (1000 hosts)").rps / ourHttp.rps - 1;
    const cpuDrift = r("mypaas (1000 hosts)").cpuUs! / ourHttp.cpuUs! - 1;
    console.log(
      `  1000 hosts vs 1 host  ${(drift * 100).toFixed(1)}% req/s, ${
        (cpuDrift * 100).toFixed(1)
      }% CPU/req  [within 5%]`,
    );
    console.log(
      `  CPU per request vs nginx ${
        ratio(ourHttp.cpuUs!, r("nginx (1 worker)").cpuUs!)
      }, vs caddy ${ratio(ourHttp.cpuUs!, r("caddy reverse_proxy").cpuUs!)}` +
        " (lower is better; robust to other load on the host)",
    );
    const load = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
    console.log(`  host load average during the run: ${load}`);
  } finally {
    for (const p of procs) await stop(p);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await run();
