/**
 * @module
 * Forwarding one request to a service's replicas: pick, send with the
 * upstream timeout, retry idempotent requests on another replica after a
 * failure of the replica (ejecting it: no connection, or closed without an
 * answer to a whole request; never for what the request caused: a refused
 * or failed request body, a malformed answer), wait a bounded time when no
 * replica is usable, and stream the response back while counting it in
 * flight so that a drain waits for it.
 */
import { errorPage } from "./error_pages.ts";
import {
  appendEndToEnd,
  type ClientSide,
  type RequestHead,
  upstreamHeaders,
} from "./headers.ts";
import { guardBody, type Tripwire } from "./limits.ts";
import type { Target, UpstreamPool } from "./upstream_pool.ts";
import {
  ConnectError,
  type H1Client,
  type H1Request,
  type H1Response,
  UpstreamError,
} from "./h1_client.ts";
import { Deadlines } from "../deadlines.ts";

/**
 * Sends one request to an upstream origin (`http://host:port`); the answer's
 * headers belong to the caller (no copy needed).
 */
export type UpstreamSend = (
  origin: string,
  r: H1Request,
) => Promise<H1Response>;

/** An UpstreamSend over the hand-written keep-alive client (passes Host). */
export function h1Send(client: H1Client): UpstreamSend {
  return (origin, r) => client.request(origin, r);
}

/**
 * An UpstreamSend over fetch with a pooled client (Host is not passed).
 * fetch does not say whose fault a failure was: one with a request body
 * counts as the request's (`stopped_reading`), as the h1 client's would
 * when it cannot tell.
 */
export function fetchSend(client: Deno.HttpClient): UpstreamSend {
  return async (origin, r) => {
    let res: Response;
    try {
      res = await fetch(origin + r.path, {
        method: r.method,
        headers: [...r.headers],
        body: r.body,
        redirect: "manual",
        client,
        ...(r.signal ? { signal: r.signal } : {}),
      });
    } catch (err) {
      throw new UpstreamError(
        r.body ? "stopped_reading" : "no_answer",
        `fetch from ${origin} failed`,
        { cause: err },
      );
    }
    const length = res.headers.get("content-length");
    return {
      status: res.status,
      headers: [...res.headers],
      body: res.body,
      ...(length !== null ? { length: Number(length) } : {}),
    };
  };
}

/** Limits and timeouts the forwarder applies (milliseconds, bytes). */
export interface ForwardLimits {
  maxBody: number;
  upstreamTimeout: number;
  clientTimeout: number;
  unavailableWait: number;
}

/** One request to forward, as the handler prepared it. */
export interface ForwardRequest {
  req: Request;
  side: ClientSide;
  /** The request's headers, read once. */
  head: RequestHead;
  /** Path and query to send upstream (prefix already stripped if asked). */
  pathAndQuery: string;
  /** Add HSTS to the response (https route served over https). */
  hsts: boolean;
}

/** Upstream timeouts of requests in flight: one timer for all of them. */
const deadlines = new Deadlines();

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
const HSTS = "max-age=31536000";

/** Sends `fr` to one of `pool`'s replicas and returns the answer. */
export async function forwardToPool(
  fr: ForwardRequest,
  pool: UpstreamPool,
  limits: ForwardLimits,
  send: UpstreamSend,
): Promise<Response> {
  const { req, side } = fr;
  const trip: Tripwire = {};
  const body = req.body
    ? guardBody(req.body, {
      maxBytes: limits.maxBody,
      deadlineMs: limits.clientTimeout,
    }, trip)
    : null;
  const retryable = body === null && IDEMPOTENT.has(req.method);
  const headers = upstreamHeaders(fr.head, side);
  const declared = req.headers.get("content-length");
  const contentLength = body && declared !== null && /^\d+$/.test(declared)
    ? Number(declared)
    : undefined;
  const input = {
    headers: req.headers,
    clientIp: side.clientIp,
    secure: side.scheme === "https",
  };
  const tried = new Set<Target>();
  let waited = false;
  try {
    for (;;) {
      const pick = pool.pick(input, tried);
      if (!pick) {
        if (tried.size) return errorPage(502);
        if (waited || !(await pool.waitUsable(limits.unavailableWait))) {
          return errorPage(503, { "retry-after": "5" });
        }
        waited = true;
        continue;
      }
      const t = pick.target;
      t.acquire();
      const ac = new AbortController();
      const timer = deadlines.add(limits.upstreamTimeout, () => ac.abort());
      let res: H1Response;
      try {
        res = await send(t.url, {
          method: req.method,
          path: fr.pathAndQuery,
          headers,
          body,
          ...(contentLength !== undefined ? { contentLength } : {}),
          signal: ac.signal,
        });
      } catch (err) {
        timer.clear();
        t.release();
        if (trip.tripped) return errorPage(trip.tripped.status);
        if (ac.signal.aborted) return errorPage(504);
        if (!replicaFailed(err)) {
          return errorPage(clientFailed(err) ? 400 : 502);
        }
        pool.eject(t);
        tried.add(t);
        if (retryable) continue;
        return errorPage(502);
      }
      timer.clear();
      const out = passOn(res, countedBody(res, t));
      if (!out) return errorPage(502);
      const h = out.headers;
      if (pick.setCookie) h.append("set-cookie", pick.setCookie);
      h.set("x-request-id", side.requestId);
      if (fr.hsts) h.set("strict-transport-security", HSTS);
      return out;
    }
  } finally {
    trip.dispose?.();
  }
}

/**
 * The replica failed (not this request): it could not be reached, or it
 * closed without answering a request it took whole. Anything else is no
 * reason to eject it: a client could otherwise take a service down.
 */
function replicaFailed(err: unknown): boolean {
  return err instanceof ConnectError ||
    (err instanceof UpstreamError && err.failure === "no_answer");
}

/** The client's request body failed (it went away mid-body). */
function clientFailed(err: unknown): boolean {
  return err instanceof UpstreamError && err.failure === "request_body";
}

/**
 * The Response to send on for an upstream's answer, or null (its body
 * cancelled, so the connection and the replica's slot are let go) when the
 * Response API refuses the head (a header name or value it finds invalid, a
 * status it does not take). Headers in `skip` are left out.
 */
export function passOn(
  res: H1Response,
  body: BodyInit | null,
  skip?: Set<string>,
): Response | null {
  try {
    const out = new Response(body, { status: res.status });
    appendEndToEnd(out.headers, res.headers, skip);
    return out;
  } catch {
    if (body instanceof ReadableStream) body.cancel().catch(() => {});
    return null;
  }
}

/** Bodies up to this size are in flight for a moment only: not wrapped. */
const SMALL_BODY = 64 * 1024;

/**
 * Passes `body` through, releasing `t` when it ends or is cancelled. Small
 * bodies of known length skip the JS stream (it costs a third of the
 * throughput) and count as done once the head arrived.
 */
function countedBody(
  res: H1Response,
  t: Target,
): BodyInit | null {
  const body = res.body;
  if (
    !body || body instanceof Uint8Array ||
    (res.length !== undefined && res.length <= SMALL_BODY)
  ) {
    t.release();
    return body;
  }
  const reader = body.getReader();
  let done = false;
  const finish = () => {
    if (!done) {
      done = true;
      t.release();
    }
  };
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      try {
        const r = await reader.read();
        if (r.done) {
          finish();
          c.close();
        } else c.enqueue(r.value);
      } catch (err) {
        finish();
        c.error(err);
      }
    },
    cancel(reason) {
      finish();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
