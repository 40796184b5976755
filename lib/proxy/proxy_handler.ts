/**
 * @module
 * The proxy's request handler, apart from any listener so tests can call it
 * directly: limits on the head, the ACME challenge path, the admin domain,
 * route lookup, http->https redirects, then a handler backend or a pool.
 */
import { errorPage } from "./error_pages.ts";
import {
  readHead,
  type RequestHead,
  requestIdOf,
  upstreamHeaders,
} from "./headers.ts";
import {
  type ForwardLimits,
  type ForwardNote,
  forwardToPool,
  type UpstreamSend,
} from "./forward.ts";
import type {
  HandlerBackend,
  ProxyRoute,
  RequestInfo,
  Router,
} from "./router.ts";
import { isWebSocket, proxyWebSocket } from "./websocket.ts";
import { guardBody, type Tripwire } from "./limits.ts";
import type { MetricsRegistry } from "../metrics/registry.ts";
import type { RequestSpan, RequestTracer } from "../telemetry/types.ts";

/** Settings of the handler (sizes in bytes, times in milliseconds). */
export interface ProxyHandlerOptions extends ForwardLimits {
  /** Admin domain: `/daemon/*` on it goes to the router's admin handler. */
  domain: string;
  /** Port https redirects point to (443 is left out of the URL). */
  httpsPort: number;
  maxHeader: number;
  /**
   * Metrics and traces of routed requests; without it the handler counts
   * nothing (`[telemetry]` lets the daemon always pass the metrics).
   */
  observe?: RequestObserve;
}

/** Where the handler records routed requests. */
export interface RequestObserve {
  metrics: MetricsRegistry;
  /** Set only when `[telemetry] otlp_endpoint` is. */
  tracer?: RequestTracer;
}

/** What the listener knows about the connection. */
export interface ConnInfo {
  remoteAddr: Deno.NetAddr;
  scheme: "http" | "https";
}

/** A request handler bound to a router. */
export type ProxyHandler = (req: Request, conn: ConnInfo) => Promise<Response>;

const CHALLENGE = "/.well-known/acme-challenge/";
/** A request URL's host part: name or IP literal, optional port. */
const HOST = /^(?:[a-z0-9_.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;

/** Builds the handler; `send` is the pooled HTTP client to upstreams. */
export function createProxyHandler(
  router: Router,
  opts: ProxyHandlerOptions,
  send: UpstreamSend,
): ProxyHandler {
  const domain = opts.domain.toLowerCase();
  const route = routeRequest(router, opts, send, domain);
  return async (req, conn) => {
    const res = await route(req, conn);
    // An answer given without reading the body (431, 400, 413, 404, 503, a
    // redirect, a refusal by the admin API): the body is read to its end
    // before the answer goes out, as nginx discards one. Else HTTP/2 ends
    // the stream with RST_STREAM(NO_ERROR) after the answer while the
    // client still uploads, which curl (7.88, Debian 12's) reports as a
    // framing error instead of the answer.
    // (An upgraded connection's stream is no body.)
    if (
      res.status !== 101 && req.body && !req.bodyUsed && !req.body.locked
    ) {
      await discard(req.body, opts);
    }
    return res;
  };
}

function routeRequest(
  router: Router,
  opts: ProxyHandlerOptions,
  send: UpstreamSend,
  domain: string,
): ProxyHandler {
  return async (req, conn) => {
    const url = splitUrl(req.url);
    const path = url.pathname;
    const host = url.hostname;
    const requestId = requestIdOf(req);
    const head = readHead(req, path + url.search);
    const info: RequestInfo = {
      remoteAddr: conn.remoteAddr,
      scheme: conn.scheme,
      requestId,
      head,
    };
    if (head.size > opts.maxHeader) return errorPage(431);
    // As nginx: a Host that is no host name, IP literal or port is refused
    // (Deno.serve takes "a b" or "a/b?c", and routing would read it apart).
    const hostHeader = req.headers.get("host");
    if (!HOST.test(hostHeader?.toLowerCase() ?? url.host)) {
      return errorPage(400);
    }
    const length = Number(req.headers.get("content-length") ?? 0);
    if (length > opts.maxBody) return errorPage(413);

    if (conn.scheme === "http" && path.startsWith(CHALLENGE)) {
      const challenge = router.challengeHandler;
      if (challenge) return await callHandler(challenge, req, info);
    }
    if (
      host === domain && (path === "/daemon" || path.startsWith("/daemon/"))
    ) {
      const admin = router.adminHandler;
      if (!admin) return errorPage(404);
      // a push carries source and --env values: not in clear past loopback
      if (conn.scheme === "http" && !isLoopback(conn.remoteAddr.hostname)) {
        return httpsOnly(req, domain, opts.httpsPort, path + url.search);
      }
      return await callHandler(admin, req, info);
    }
    const byId = router.deployIdHandler;
    if (byId && req.headers.has("x-deno-deploy-id")) {
      return await callFunction(byId, req, info, opts);
    }
    const route = router.table.lookup(host, path);
    if (!route) return errorPage(404);
    if (route.scheme === "https" && conn.scheme === "http") {
      return toHttps(host, opts.httpsPort, path + url.search);
    }
    const serve: Serve = { opts, send, req, conn, info, url, head };
    const observe = opts.observe;
    if (!observe) return await serveRoute(serve, route);
    return await observed(observe, serve, route, length);
  };
}

/** What serving one routed request needs. */
interface Serve {
  opts: ProxyHandlerOptions;
  send: UpstreamSend;
  req: Request;
  conn: ConnInfo;
  info: RequestInfo;
  url: ReturnType<typeof splitUrl>;
  head: RequestHead;
}

/**
 * Serves a routed request, counted: open until the answer's head, then its
 * status, latency and sizes (declared lengths: counting streamed bytes
 * would wrap every body in a JS stream). With a tracer, a span whose
 * traceparent replaces the client's in what goes upstream.
 */
async function observed(
  observe: RequestObserve,
  s: Serve,
  route: ProxyRoute,
  bytesIn: number,
): Promise<Response> {
  const kind = route.target.kind === "pool" ? "service" : "function";
  const m = observe.metrics;
  const c = m.of(`${kind}:${route.owner}`);
  let span: RequestSpan | undefined;
  let note: ForwardNote | undefined;
  if (observe.tracer) {
    span = startSpan(observe.tracer, s, route, kind);
    if (span) note = {};
  }
  const t0 = performance.now();
  m.opened(c);
  let status = 500, bytesOut = 0;
  try {
    const res = await serveRoute(s, route, note);
    status = res.status;
    const len = res.headers.get("content-length");
    if (len !== null) bytesOut = Number(len) || 0;
    return res;
  } finally {
    m.answered(c, status, (performance.now() - t0) / 1000, bytesIn, bytesOut);
    span?.end({ status, bytesIn, bytesOut, ...note });
  }
}

/** A request span; its traceparent goes upstream in the client's place. */
function startSpan(
  tracer: RequestTracer,
  s: Serve,
  route: ProxyRoute,
  kind: "service" | "function",
): RequestSpan | undefined {
  const pairs = s.head.pairs;
  let traceparent: string | undefined, tracestate: string | undefined;
  for (const [k, v] of pairs) {
    if (k === "traceparent") traceparent = v;
    else if (k === "tracestate") tracestate = v;
  }
  const span = tracer.start(s.req.method, s.url.pathname, {
    ...(traceparent !== undefined ? { traceparent } : {}),
    ...(tracestate !== undefined ? { tracestate } : {}),
  }, { kind, name: route.owner, route: route.host + route.path });
  if (!span) return undefined;
  const i = pairs.findIndex(([k]) => k === "traceparent");
  if (i >= 0) pairs[i] = ["traceparent", span.traceparent];
  else pairs.push(["traceparent", span.traceparent]);
  return span;
}

/** Serves a routed request with its handler or its service's pool. */
async function serveRoute(
  s: Serve,
  route: ProxyRoute,
  note?: ForwardNote,
): Promise<Response> {
  const { opts, send, req, conn, info, url, head } = s;
  const path = url.pathname;
  if (route.target.kind === "handler") {
    const res = await callFunction(route.target.handler, req, info, opts);
    if (route.scheme === "https" && conn.scheme === "https") {
      try {
        res.headers.set("strict-transport-security", "max-age=31536000");
      } catch { /* immutable headers (a fetched Response): leave as is */ }
    }
    return res;
  }
  const pathAndQuery =
    (route.stripPrefix && route.path !== "/"
      ? path.slice(route.path.length) || "/"
      : path) + url.search;
  // the authority routed by: in absolute form (`GET http://a/`) the
  // target's, not the Host header's (RFC 9112 3.2.2)
  const side = {
    clientIp: conn.remoteAddr.hostname,
    scheme: conn.scheme,
    host: url.host,
    requestId: info.requestId,
  };
  const pool = route.target.pool;
  if (isWebSocket(req)) {
    let pick = pool.pick({ ...side, headers: req.headers, secure: false });
    if (!pick && await pool.waitUsable(opts.unavailableWait)) {
      pick = pool.pick({ ...side, headers: req.headers, secure: false });
    }
    if (!pick) return errorPage(503);
    return await proxyWebSocket(
      req,
      pick.target,
      pathAndQuery,
      upstreamHeaders(head, side),
      opts.upstreamTimeout,
    );
  }
  return await forwardToPool(
    {
      req,
      side,
      head,
      pathAndQuery,
      hsts: route.scheme === "https" && conn.scheme === "https",
      ...(note ? { note } : {}),
    },
    pool,
    opts,
    send,
  );
}

/** A 308 to the same place over HTTPS. */
function toHttps(host: string, httpsPort: number, target: string): Response {
  return new Response(null, {
    status: 308,
    headers: { location: httpsUrl(host, httpsPort, target) },
  });
}

function httpsUrl(host: string, httpsPort: number, target: string): string {
  return `https://${host}${httpsPort === 443 ? "" : `:${httpsPort}`}${target}`;
}

/**
 * The admin API's answer over plain HTTP from past loopback: a redirect for
 * GET and HEAD (a link followed), 403 for the rest (their body was already
 * sent in clear; a redirect would invite sending it again).
 */
function httpsOnly(
  req: Request,
  domain: string,
  httpsPort: number,
  target: string,
): Response {
  if (req.method === "GET" || req.method === "HEAD") {
    return toHttps(domain, httpsPort, target);
  }
  req.body?.cancel().catch(() => {});
  return new Response(
    `the daemon API is served over HTTPS only: use ${
      httpsUrl(domain, httpsPort, "/daemon/")
    }\n`,
    {
      status: 403,
      headers: {
        "content-type": "text/plain; charset=utf-8",
        connection: "close",
      },
    },
  );
}

const LOOPBACK = /^(?:127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

/** A peer address on this host (127.0.0.0/8, ::1, IPv4-mapped 127/8). */
function isLoopback(ip: string): boolean {
  return LOOPBACK.test(ip);
}

/** Calls a function backend with the body limits applied to its body. */
async function callFunction(
  handler: HandlerBackend,
  req: Request,
  info: RequestInfo,
  limits: ForwardLimits,
): Promise<Response> {
  if (!req.body) return await callHandler(handler, req, info);
  const trip: Tripwire = {};
  const body = guardBody(req.body, {
    maxBytes: limits.maxBody,
    deadlineMs: limits.clientTimeout,
  }, trip);
  const guarded = new Request(req.url, {
    method: req.method,
    headers: req.headers,
    body,
  });
  try {
    const res = await callHandler(handler, guarded, info);
    if (trip.tripped) return errorPage(trip.tripped.status);
    // a function that answered without reading its body (a refusal)
    const left = guarded.body;
    if (left && !guarded.bodyUsed && !left.locked) await discard(left, limits);
    return res;
  } finally {
    trip.dispose?.();
  }
}

/** Runs an in-process handler; a throw is a generic 500. */
async function callHandler(
  handler: HandlerBackend,
  req: Request,
  info: RequestInfo,
): Promise<Response> {
  try {
    return await handler(req, info);
  } catch {
    return errorPage(500);
  }
}

/**
 * Reads `body` to its end and drops it, or stops (the stream is then reset)
 * past twice the body limit or the client timeout: enough for a refused
 * upload of up to twice `max_body` to get its answer over HTTP/2, with a
 * bound on what a refusal costs.
 */
async function discard(
  body: ReadableStream<Uint8Array>,
  limits: ForwardLimits,
): Promise<void> {
  const trip: Tripwire = {};
  const reader = guardBody(body, {
    maxBytes: 2 * limits.maxBody,
    deadlineMs: limits.clientTimeout,
  }, trip).getReader();
  try {
    while (!(await reader.read()).done);
  } catch {
    // over a limit, or the client went away: nothing more to wait for
  } finally {
    trip.dispose?.();
  }
}

/** Host and path of an absolute request URL without a URL parse. */
function splitUrl(
  href: string,
): { host: string; hostname: string; pathname: string; search: string } {
  const start = href.indexOf("//") + 2;
  let end = href.indexOf("/", start);
  if (end < 0) end = href.length;
  const host = href.slice(start, end).toLowerCase();
  const q = href.indexOf("?", end);
  const pathname = q < 0 ? href.slice(end) || "/" : href.slice(end, q);
  const search = q < 0 ? "" : href.slice(q);
  let hostname = host.startsWith("[")
    ? host.slice(0, host.indexOf("]") + 1)
    : host.replace(/:\d+$/, "");
  if (hostname.endsWith(".")) hostname = hostname.slice(0, -1);
  return { host, hostname, pathname, search };
}
