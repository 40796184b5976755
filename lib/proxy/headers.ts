/**
 * @module
 * Header rules of the proxy: hop-by-hop headers dropped both ways,
 * X-Forwarded-* and X-Request-Id added, the request head measured for the
 * 431 limit.
 */

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

/** Deletes hop-by-hop headers, including those named in Connection. */
export function stripHopByHop(h: Headers): void {
  const conn = h.get("connection");
  if (conn) {
    for (const name of conn.split(",")) {
      const n = name.trim();
      if (n) h.delete(n);
    }
  }
  for (const name of HOP_BY_HOP) h.delete(name);
}

/** What the proxy knows about the client side of a request. */
export interface ClientSide {
  clientIp: string;
  scheme: "http" | "https";
  /** Host header as the client sent it (port included). */
  host: string;
  requestId: string;
}

/** The headers to send upstream for `req`. */
export function upstreamHeaders(req: Request, side: ClientSide): Headers {
  const h = new Headers(req.headers);
  stripHopByHop(h);
  const prior = h.get("x-forwarded-for");
  h.set(
    "x-forwarded-for",
    prior ? `${prior}, ${side.clientIp}` : side.clientIp,
  );
  h.set("x-forwarded-proto", side.scheme);
  h.set("x-forwarded-host", side.host);
  h.set("x-request-id", side.requestId);
  return h;
}

const REQUEST_ID = /^[\w.:\-]{1,200}$/;

/** The client's X-Request-Id when it is sane, or a new one. */
export function requestIdOf(req: Request): string {
  const id = req.headers.get("x-request-id");
  return id && REQUEST_ID.test(id) ? id : crypto.randomUUID();
}

/** Approximate size of the request head in bytes (request line + headers). */
export function headSize(req: Request, pathAndQuery: string): number {
  let n = req.method.length + pathAndQuery.length + 12;
  for (const [k, v] of req.headers) n += k.length + v.length + 4;
  return n;
}
