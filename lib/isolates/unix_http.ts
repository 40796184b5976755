/**
 * @module
 * HTTP/1.1 to one isolate's Unix socket: the proxy's keep-alive client
 * (lib/proxy/h1_client.ts) with a Unix-socket connect. Deno 2.9.6's `fetch`
 * with `createHttpClient({ proxy: { transport: "unix" } })` parks one
 * blocking-pool thread per connection, pooled ones included: past ~32
 * connections every async file operation of the daemon hangs (measured);
 * Deno.connect's Unix streams are truly async. Bodies stream both ways; a
 * small answer already in the read buffer is handed over as bytes (no JS
 * stream on either side of the daemon).
 */
import { ConnectError, H1Client } from "../proxy/h1_client.ts";

/** Kept connections per isolate (wrk -c32 against one isolate reuses all). */
const MAX_IDLE = 64;
/** Request headers never passed on: hop-by-hop, or framing set anew. */
const DROP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
]);

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
    return this.#send(method, target, list, body, signal, contentLength);
  }

  async #send(
    method: string,
    target: string,
    headers: [string, string][],
    body: ReadableStream<Uint8Array> | null,
    signal: AbortSignal | undefined,
    contentLength: number | undefined,
  ): Promise<Response> {
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
      const out = new Response(res.body, { status: res.status });
      for (const h of res.raw ?? res.headers) out.headers.append(h[0], h[1]);
      return out;
    } catch (err) {
      if (err instanceof ConnectError) {
        throw new NotSentError(`cannot connect to ${this.path}`, {
          cause: err.cause,
        });
      }
      throw signal?.aborted ? signal.reason : err;
    }
  }

  /**
   * Sends the daemon's `req` on: its path and query, its headers minus
   * hop-by-hop ones, plus `extra` (the isolate's x-mypaas-* headers).
   */
  forward(
    req: Request,
    extra: [string, string][],
    signal?: AbortSignal,
  ): Promise<Response> {
    const url = req.url;
    // path and query without a URL parse: after "scheme://authority"
    const slash = url.indexOf("/", url.indexOf("//") + 2);
    const target = slash < 0 ? "/" : url.slice(slash);
    const headers: [string, string][] = [];
    let host = false;
    let length: string | undefined;
    for (const h of req.headers) {
      const k = h[0];
      if (DROP.has(k)) {
        if (k === "content-length") length = h[1];
        continue;
      }
      // only the daemon speaks x-mypaas-* to an isolate
      if (k.startsWith("x-mypaas-")) continue;
      if (k === "host") host = true;
      headers.push(h);
    }
    if (!host) headers.push(["host", "isolate"]);
    for (const h of extra) headers.push(h);
    const body = req.body;
    const n = body && length !== undefined && /^\d+$/.test(length)
      ? Number(length)
      : undefined;
    return this.#send(req.method, target, headers, body, signal, n);
  }

  /** Closes idle connections; requests in flight finish. */
  close(): void {
    this.#h1.close();
  }
}
