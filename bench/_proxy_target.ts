/**
 * The mypaas proxy as a separate process for the benchmark:
 * `deno run -A bench/_proxy_target.ts UPSTREAM_URL HOSTS CERT KEY`
 * routes `bench.test` (plus HOSTS-1 other hosts) to UPSTREAM_URL and prints
 * "HTTP_PORT HTTPS_PORT" once listening on 127.0.0.1.
 */
import { ProxyServer, Router } from "../lib/proxy/mod.ts";
import { resolveConfig } from "../lib/config/mod.ts";
import type { ServiceSpec } from "../lib/spec/types.ts";

const [upstream, hostsArg, certFile, keyFile] = Deno.args;
const hosts = Number(hostsArg ?? 1);
const router = new Router();
function spec(service: string, host: string): ServiceSpec {
  return {
    kind: "service",
    service,
    file: "Dockerfile",
    urls: [{ url: `http://${host}/`, scheme: "http", host, path: "/" }],
    volumes: [],
    env: {},
    port: 80,
    publish: [],
    scale: { strategy: "rolling", replicas: 1 },
  };
}
for (let i = 1; i < hosts; i++) {
  router.setService(spec(`s${i}`, `host-${i}.bench.test`));
  router.addUpstream(`s${i}`, { id: `u${i}`, url: upstream! });
}
router.setService(spec("bench", "bench.test"));
router.addUpstream("bench", { id: "u0", url: upstream! });
const cert = certFile ? Deno.readTextFileSync(certFile) : "";
const key = keyFile ? Deno.readTextFileSync(keyFile) : "";
const config = resolveConfig("", { home: "/tmp" });
const server = new ProxyServer({
  router,
  config: { ...config, server: { ...config.server, bind: "127.0.0.1" } },
  ...(cert
    ? {
      certs: {
        get: () => ({ cert, key }),
        defaultCert: () => ({ cert, key }),
        onChange: () => () => {},
      },
    }
    : {}),
  listen: { http: 0, https: cert ? 0 : false },
  ...(Deno.env.get("PROXY_CLIENT") === "fetch"
    ? { upstreamClient: "fetch" as const }
    : {}),
});
await server.start();
const out = `${server.httpAddr!.port} ${server.httpsAddr?.port ?? 0}\n`;
await Deno.stdout.write(new TextEncoder().encode(out));
