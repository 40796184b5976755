/**
 * @module
 * Forwarding one request to a service's replicas: pick, send with the
 * upstream timeout, retry idempotent requests on another replica when they
 * got no answer, eject a replica that cannot be reached (only that: what
 * happens on a connection may be the request's doing, a refused body, an
 * answer and close, a request that makes the app hang up, and a client must
 * not be able to take a service down), wait a bounded time when no
 * replica is usable, and stream the response back while counting it in
 * flight so that a drain waits for it.
 */
import { errorPage } from "./error_pages.ts";
import {
  type ClientSide,
  type RequestHead,
  upstreamHeaders,
} from "./headers.ts";
import { passOn } from "../http1/end_to_end.ts";
import { guardBody, type Tripwire } from "./limits.ts";
import type { Target, UpstreamPool } from "./upstream_pool.ts";
import {
  ConnectError,
  type H1Client,
  type H1Request,
  type H1Response,
  UpstreamError,
} from "../http1/client.ts";
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
 * counts as the request's (`stopped_reading`), one without as `no_answer`
 * (retried elsewhere); none is a ConnectError, so with this client no
 * replica is ejected passively (health checks still take one out).
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
  /** Filled with the replica that answered and its time (a traced request). */
  note?: ForwardNote;
}

/** What a traced request's span learns from the forwarder. */
export interface ForwardNote {
  replica?: string;
  release?: string;
  upstreamMs?: number;
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
      const sentAt = fr.note ? performance.now() : 0;
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
        if (clientFailed(err)) return errorPage(400);
        // the proxy's own shortage (EMFILE): no replica is to blame
        if (err instanceof UpstreamError && err.failure === "no_resources") {
          return errorPage(503);
        }
        if (err instanceof ConnectError) pool.eject(t);
        tried.add(t);
        if (retryable && unanswered(err)) continue;
        return errorPage(502);
      }
      timer.clear();
      if (fr.note) {
        fr.note.replica = t.id;
        if (t.releaseName) fr.note.release = t.releaseName;
        fr.note.upstreamMs = performance.now() - sentAt;
      }
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
 * The request got no answer at all (no connection, or closed before one):
 * an idempotent request may go to another replica. A malformed answer is
 * not retried (it would be the same).
 */
function unanswered(err: unknown): boolean {
  return err instanceof ConnectError ||
    (err instanceof UpstreamError && err.failure === "no_answer");
}

/** The client's request body failed (it went away mid-body). */
function clientFailed(err: unknown): boolean {
  return err instanceof UpstreamError && err.failure === "request_body";
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
