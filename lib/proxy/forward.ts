/**
 * @module
 * Forwarding one request to a service's replicas: pick, send with the
 * upstream timeout, retry idempotent requests on another replica after a
 * connection error (ejecting the failed one), wait a bounded time when no
 * replica is usable, and stream the response back while counting it in
 * flight so that a drain waits for it.
 */
import { errorPage } from "./error_pages.ts";
import { type ClientSide, stripHopByHop, upstreamHeaders } from "./headers.ts";
import { guardBody, type Tripwire } from "./limits.ts";
import type { Target, UpstreamPool } from "./upstream_pool.ts";

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
  /** Path and query to send upstream (prefix already stripped if asked). */
  pathAndQuery: string;
  /** Add HSTS to the response (https route served over https). */
  hsts: boolean;
}

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
const HSTS = "max-age=31536000";

/** Sends `fr` to one of `pool`'s replicas and returns the answer. */
export async function forwardToPool(
  fr: ForwardRequest,
  pool: UpstreamPool,
  limits: ForwardLimits,
  client: Deno.HttpClient,
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
  const headers = upstreamHeaders(req, side);
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
      const timer = setTimeout(() => ac.abort(), limits.upstreamTimeout);
      let res: Response;
      try {
        res = await fetch(t.url + fr.pathAndQuery, {
          method: req.method,
          headers,
          body,
          redirect: "manual",
          client,
          signal: ac.signal,
        });
      } catch {
        clearTimeout(timer);
        t.release();
        if (trip.tripped) return errorPage(trip.tripped.status);
        if (ac.signal.aborted) return errorPage(504);
        pool.eject(t);
        tried.add(t);
        if (retryable) continue;
        return errorPage(502);
      }
      clearTimeout(timer);
      const h = new Headers(res.headers);
      stripHopByHop(h);
      if (pick.setCookie) h.append("set-cookie", pick.setCookie);
      h.set("x-request-id", side.requestId);
      if (fr.hsts) h.set("strict-transport-security", HSTS);
      return new Response(countedBody(res, t), {
        status: res.status,
        statusText: res.statusText,
        headers: h,
      });
    }
  } finally {
    trip.dispose?.();
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
  res: Response,
  t: Target,
): ReadableStream<Uint8Array> | null {
  const body = res.body;
  const length = res.headers.get("content-length");
  if (!body || (length !== null && Number(length) <= SMALL_BODY)) {
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
