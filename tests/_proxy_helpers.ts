/**
 * Helpers for the proxy tests: loopback backends on port 0, a proxy on
 * ephemeral ports, and a raw HTTP/1.1 client (fetch cannot set Host).
 */
import {
  ProxyServer,
  type ProxyServerOptions,
} from "../lib/proxy/proxy_server.ts";
import { Router, type RouterOptions } from "../lib/proxy/router.ts";
import type { CertSource } from "../lib/proxy/tls_server.ts";
import type { ServiceSpec, SpecUrl } from "../lib/spec/types.ts";
import type { ResolvedConfig } from "../lib/config/mod.ts";

/** A loopback backend that answers with its name (or a custom handler). */
export interface Backend {
  name: string;
  url: string;
  port: number;
  hits: number;
  close(): Promise<void>;
}

/** Starts a backend on 127.0.0.1:0. */
export function startBackend(
  name: string,
  handler?: (req: Request) => Response | Promise<Response>,
): Backend {
  const b = { name, hits: 0 } as Backend;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      b.hits++;
      return handler ? handler(req) : new Response(name);
    },
  );
  b.port = server.addr.port;
  b.url = `http://127.0.0.1:${b.port}`;
  b.close = () => server.shutdown();
  return b;
}

/** A SpecUrl for `url`. */
export function specUrl(url: string): SpecUrl {
  const u = new URL(url);
  return {
    url,
    scheme: u.protocol === "https:" ? "https" : "http",
    host: u.hostname,
    path: u.pathname.replace(/\/+$/, "") || "/",
  };
}

/** A minimal ServiceSpec routing `urls`. */
export function spec(
  service: string,
  urls: string[],
  extra: Partial<ServiceSpec> = {},
): ServiceSpec {
  return {
    kind: "service",
    service,
    file: "Dockerfile",
    urls: urls.map(specUrl),
    volumes: [],
    env: {},
    port: 80,
    publish: [],
    scale: { strategy: "rolling", replicas: 2 },
    ...extra,
  };
}

/** Proxy settings for tests (small, fast limits). */
export function testConfig(
  proxy: Partial<ResolvedConfig["proxy"]> = {},
  domain = "admin.test",
): Pick<ResolvedConfig, "server" | "proxy"> {
  return {
    server: {
      domain,
      dataDir: "/nonexistent",
      bind: "127.0.0.1",
      httpPort: 0,
      httpsPort: 0,
      controlSocket: "/nonexistent/sock",
      maxUpload: 1 << 20,
      maxUploadFiles: 10,
      maxUnpacked: 1 << 20,
      keepReleases: 1,
    },
    proxy: {
      maxBody: 1 << 20,
      maxHeader: 16 * 1024,
      upstreamTimeout: 5000,
      clientTimeout: 5000,
      headerTimeout: 15000,
      keepaliveTimeout: 75000,
      drainTimeout: 5000,
      unavailableWait: 1000,
      ...proxy,
    },
  };
}

/** A started proxy with its router. */
export interface TestProxy {
  router: Router;
  server: ProxyServer;
  port: number;
  httpsPort?: number;
  stop(): Promise<void>;
}

/** Starts a proxy on ephemeral loopback ports. */
export async function startProxy(
  opts: {
    proxy?: Partial<ResolvedConfig["proxy"]>;
    router?: RouterOptions;
    certs?: CertSource;
    upstreamClient?: "h1" | "fetch";
    observe?: ProxyServerOptions["observe"];
  } = {},
): Promise<TestProxy> {
  const router = new Router(opts.router);
  const server = new ProxyServer({
    router,
    config: testConfig(opts.proxy),
    ...(opts.certs ? { certs: opts.certs } : {}),
    listen: { http: 0, https: opts.certs ? 0 : false },
    ...(opts.upstreamClient ? { upstreamClient: opts.upstreamClient } : {}),
    ...(opts.observe ? { observe: opts.observe } : {}),
  });
  await server.start();
  return {
    router,
    server,
    port: server.httpAddr!.port,
    ...(server.httpsAddr ? { httpsPort: server.httpsAddr.port } : {}),
    async stop() {
      await server.stop();
      router.stop();
    },
  };
}

/** A response read by `raw()`. */
export interface RawResponse {
  status: number;
  headers: Headers;
  body: string;
  /** The answer as it came on the wire (framing included). */
  wire: string;
}

/**
 * Sends one HTTP/1.1 request with `Connection: close` over a fresh TCP
 * connection and reads the whole answer. `body` chunks are written with
 * `delayMs` between them (slow clients).
 */
export async function raw(
  port: number,
  opts: {
    host: string;
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string[];
    delayMs?: number;
  },
): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const enc = new TextEncoder();
  const bodyLen = (opts.body ?? []).reduce(
    (n, c) => n + enc.encode(c).length,
    0,
  );
  let head = `${opts.method ?? "GET"} ${opts.path ?? "/"} HTTP/1.1\r\n` +
    `host: ${opts.host}\r\nconnection: close\r\n`;
  const headers = { ...opts.headers };
  if (
    opts.body && !("content-length" in headers) &&
    !("transfer-encoding" in headers)
  ) {
    headers["content-length"] = String(bodyLen);
  }
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  const reading = readAll(conn);
  try {
    await conn.write(enc.encode(head + "\r\n"));
    for (const chunk of opts.body ?? []) {
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      await conn.write(enc.encode(chunk));
    }
  } catch {
    // the proxy may answer and close before the body is sent
  }
  const text = await reading;
  try {
    conn.close();
  } catch { /* closed */ }
  return parseResponse(text);
}

/** Reads until EOF or until the answer is complete (servers may linger). */
async function readAll(conn: Deno.Conn): Promise<string> {
  const dec = new TextDecoder();
  let text = "";
  const buf = new Uint8Array(16384);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += dec.decode(buf.subarray(0, n), { stream: true });
      if (complete(text)) break;
    }
  } catch {
    // reset by peer after the answer
  }
  return text;
}

function complete(text: string): boolean {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return false;
  const head = text.slice(0, end).toLowerCase();
  const len = /\r\ncontent-length: *(\d+)/.exec(head);
  if (len) {
    return new TextEncoder().encode(text.slice(end + 4)).length >=
      Number(len[1]);
  }
  if (/\r\ntransfer-encoding: *chunked/.test(head)) {
    return text.endsWith("\r\n0\r\n\r\n") || text.endsWith("\n0\r\n\r\n");
  }
  return / (1\d\d|204|304) /.test(head.split("\r\n")[0]!);
}

function parseResponse(text: string): RawResponse {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) {
    throw new Error(`No HTTP response head in ${JSON.stringify(text)}`);
  }
  const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
  const headers = new Headers();
  for (const l of lines) {
    const i = l.indexOf(":");
    headers.append(l.slice(0, i).trim(), l.slice(i + 1).trim());
  }
  let body = text.slice(end + 4);
  if (headers.get("transfer-encoding") === "chunked") body = unchunk(body);
  return {
    status: Number(statusLine!.split(" ")[1]),
    headers,
    body,
    wire: text,
  };
}

function unchunk(text: string): string {
  let out = "";
  let rest = text;
  for (;;) {
    const nl = rest.indexOf("\r\n");
    if (nl < 0) return out;
    const size = parseInt(rest.slice(0, nl), 16);
    if (!size) return out;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
}

/** A hand-written upstream on 127.0.0.1:0 (framing the Response API forbids). */
export interface RawUpstream {
  url: string;
  /** Connections accepted, and of those closed by the proxy. */
  accepted: number;
  closed: number;
  close(): Promise<void>;
}

/**
 * Starts an upstream that reads each request head and calls `answer` with
 * it; the connection stays open until the proxy closes it (counted in
 * `closed`), so a connection put back in the pool is seen as not closed.
 * `answer` may read on (a body) or close the connection itself.
 */
export function startRawUpstream(
  answer: (head: string, conn: Deno.Conn) => Promise<void>,
): RawUpstream {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const u: RawUpstream = {
    url: `http://127.0.0.1:${listener.addr.port}`,
    accepted: 0,
    closed: 0,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await serving;
    },
  };
  const serve = async (conn: Deno.Conn) => {
    const buf = new Uint8Array(64 * 1024);
    let text = "";
    try {
      for (;;) {
        const end = text.indexOf("\r\n\r\n");
        if (end >= 0) {
          await answer(text.slice(0, end), conn);
          text = text.slice(end + 4);
          continue;
        }
        const n = await conn.read(buf);
        if (n === null) break;
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
    } catch { /* reset, or closed by answer() or close() */ }
    u.closed++;
    conns.delete(conn);
  };
  const serving = (async () => {
    const running: Promise<void>[] = [];
    try {
      for await (const conn of listener) {
        u.accepted++;
        conns.add(conn);
        running.push(serve(conn));
      }
    } catch { /* listener closed */ }
    await Promise.all(running);
  })();
  return u;
}
