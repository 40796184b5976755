/**
 * @module
 * HTTP/1.1 to one isolate's Unix socket: the proxy's keep-alive client
 * (lib/http1/client.ts) with a Unix-socket connect. Deno 2.9.6's `fetch`
 * with `createHttpClient({ proxy: { transport: "unix" } })` parks one
 * blocking-pool thread per connection, pooled ones included: past ~32
 * connections every async file operation of the daemon hangs (measured);
 * Deno.connect's Unix streams are truly async. Bodies stream both ways; a
 * small answer already in the read buffer is handed over as bytes (no JS
 * stream on either side of the daemon).
 */
import { ConnectError, H1Client, UpstreamError } from "../http1/client.ts";
import { passOn } from "../http1/end_to_end.ts";
import {
  readHead,
  type RequestHead,
  requestIdOf,
  upstreamHeaders,
} from "../proxy/headers.ts";

/** Kept connections per isolate (wrk -c32 against one isolate reuses all). */
const MAX_IDLE = 64;
/** An isolate's answer to a forwarded request. */
export interface IsolateAnswer {
  res: Response;
  /** Its whole body is here (or it has none): the isolate is done with it. */
  complete: boolean;
}

const SET_BY_SERVER = new Set(["content-length", "date"]);

/** Who sent a request to a function, as the proxy saw it. */
export interface ClientInfo {
  clientIp: string;
  /** The proxy's X-Request-Id for it (else the client's, or a new one). */
  requestId?: string;
  /** The request's headers as the proxy already read them. */
  head?: RequestHead;
}

/**
 * The headers an isolate gets, as a container gets them
 * (`upstreamHeaders()` in lib/proxy/headers.ts): the client's, minus
 * hop-by-hop and proxy-claimed ones, with Host the routed authority. The isolate's `info.remoteAddr` is the last
 * X-Forwarded-For entry, which only the daemon writes.
 */
export function isolateHeaders(
  req: Request,
  client: ClientInfo,
): [string, string][] {
  const url = req.url;
  const head = client.head ?? readHead(req, "");
  // the authority the request was routed by (the Host header's, or the
  // target's in absolute form)
  const start = url.indexOf("//") + 2;
  const end = url.indexOf("/", start);
  return upstreamHeaders(head, {
    clientIp: client.clientIp,
    scheme: url.startsWith("https:") ? "https" : "http",
    host: url.slice(start, end < 0 ? url.length : end),
    requestId: client.requestId ?? requestIdOf(req),
  });
}

/** The 502 for an answer that is malformed or that Response refuses. */
function cannotPassOn(): IsolateAnswer {
  return {
    res: new Response("the function's answer cannot be passed on\n", {
      status: 502,
    }),
    complete: true,
  };
}

/**
 * The request was not sent: the socket refused the connection (the isolate
 * was already gone). Safe to send elsewhere; a request that was sent is
 * never retried (it may be what killed the isolate).
 */
export class NotSentError extends Error {
  override name = "NotSentError";
}

/** HTTP/1.1 over one Unix socket path, with idle connections kept. */
export class UnixHttpClient {
  readonly #h1: H1Client;

  constructor(readonly path: string) {
    this.#h1 = new H1Client({
      maxIdlePerOrigin: MAX_IDLE,
      retryStale: false,
      connect: () => Deno.connect({ transport: "unix", path }),
    });
  }

  /**
   * Sends a request; `target` is the path and query. `headers` go as they
   * are (a Host is added when missing); the body is sent chunked unless
   * `contentLength` is given.
   */
  request(
    method: string,
    target: string,
    headers: Iterable<[string, string]>,
    body: ReadableStream<Uint8Array> | null,
    signal?: AbortSignal,
    contentLength?: number,
  ): Promise<Response> {
    const list = [...headers];
    if (!list.some((h) => h[0].toLowerCase() === "host")) {
      list.push(["host", "isolate"]);
    }
    return this.#send(method, target, list, body, signal, contentLength)
      .then((a) => a.res);
  }

  async #send(
    method: string,
    target: string,
    headers: [string, string][],
    body: ReadableStream<Uint8Array> | null,
    signal: AbortSignal | undefined,
    contentLength: number | undefined,
  ): Promise<IsolateAnswer> {
    if (signal?.aborted) throw signal.reason;
    try {
      const res = await this.#h1.request("unix", {
        method,
        path: target,
        headers,
        body,
        ...(contentLength !== undefined ? { contentLength } : {}),
        ...(signal ? { signal } : {}),
      });
      const bytes = res.body instanceof Uint8Array;
      // A whole body gets its length (and the reply its Date) from the
      // daemon's own server: each header appended costs about 3 us.
      const out = passOn(res, res.body, bytes ? SET_BY_SERVER : undefined);
      if (!out) return cannotPassOn();
      return { res: out, complete: bytes || res.body === null };
    } catch (err) {
      // a malformed head (its connection closed already)
      if (err instanceof UpstreamError && err.failure === "bad_answer") {
        return cannotPassOn();
      }
      if (err instanceof ConnectError) {
        throw new NotSentError(`cannot connect to ${this.path}`, {
          cause: err.cause,
        });
      }
      throw signal?.aborted ? signal.reason : err;
    }
  }

  /**
   * Sends the daemon's `req` on with `headers` (see `isolateHeaders()`).
   * The request target is the client's whole URL (absolute form, which
   * HTTP/1.1 servers accept): the isolate's `req.url` is then already the
   * client's, with no copy of the Request inside the isolate.
   */
  forward(
    req: Request,
    headers: [string, string][],
    signal?: AbortSignal,
  ): Promise<IsolateAnswer> {
    const body = req.body;
    let n: number | undefined;
    if (body) {
      const length = req.headers.get("content-length");
      if (length !== null && /^\d+$/.test(length)) n = Number(length);
    }
    return this.#send(req.method, req.url, headers, body, signal, n);
  }

  /** Closes idle connections; requests in flight finish. */
  close(): void {
    this.#h1.close();
  }
}
