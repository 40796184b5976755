/**
 * @module
 * Header rules of the proxy: hop-by-hop headers dropped both ways, Host,
 * X-Forwarded-*, X-Real-IP, Forwarded and X-Request-Id set, the request head measured for the
 * 431 limit. The end-to-end rule both ways (hop-by-hop headers) is in
 * lib/http1/end_to_end.ts, shared with the isolates.
 */
import { HOP_BY_HOP } from "../http1/end_to_end.ts";

/** What the proxy knows about the client side of a request. */
export interface ClientSide {
  clientIp: string;
  scheme: "http" | "https";
  /**
   * The authority the request was routed by (port included): the Host
   * header, or the request target's in absolute form (RFC 9112 3.2.2).
   */
  host: string;
  requestId: string;
}

/** A request's headers read once: name/value pairs and the head's size. */
export interface RequestHead {
  pairs: [string, string][];
  /** Approximate size in bytes (request line + headers). */
  size: number;
}

/** Reads `req`'s headers in one pass (Deno materialises them lazily). */
export function readHead(req: Request, pathAndQuery: string): RequestHead {
  const pairs: [string, string][] = [];
  let size = req.method.length + pathAndQuery.length + 12;
  for (const pair of req.headers) {
    pairs.push(pair);
    size += pair[0].length + pair[1].length + 4;
  }
  return { pairs, size };
}

/**
 * Dropped from the client's request besides hop-by-hop ones: what the proxy
 * sets itself (Host is the authority it routed) and what only a proxy may
 * claim (X-Real-IP, Forwarded and every X-Forwarded-* but -For, which gets
 * the client's address appended).
 */
const HOP = new Set([...HOP_BY_HOP, "host", "x-real-ip", "forwarded"]);

/**
 * The header pairs to send upstream: hop-by-hop and client-claimed proxy
 * headers dropped; Host set to the routed authority; X-Forwarded-For
 * appended to; X-Forwarded-Proto/-Host, X-Real-IP, Forwarded (RFC 7239) and
 * X-Request-Id set.
 */
export function upstreamHeaders(
  head: RequestHead,
  side: ClientSide,
): [string, string][] {
  let drop: Set<string> = HOP;
  let prior: string | undefined;
  const out: [string, string][] = [["host", side.host]];
  for (const [k, v] of head.pairs) {
    if (k === "connection") {
      drop = new Set(HOP);
      for (const n of v.split(",")) drop.add(n.trim().toLowerCase());
    }
  }
  for (const pair of head.pairs) {
    const k = pair[0];
    if (drop.has(k) || k === "x-request-id") continue;
    if (k.startsWith("x-forwarded-")) {
      if (k === "x-forwarded-for") prior = pair[1];
    } else out.push(pair);
  }
  const ip = side.clientIp;
  out.push(
    ["x-forwarded-for", prior ? `${prior}, ${ip}` : ip],
    ["x-forwarded-proto", side.scheme],
    ["x-forwarded-host", side.host],
    ["x-real-ip", ip],
    ["forwarded", forwarded(side)],
    ["x-request-id", side.requestId],
  );
  return out;
}

/** The RFC 7239 element for `side` (IPv6 and ports quoted, as it asks). */
function forwarded(side: ClientSide): string {
  const ip = side.clientIp.includes(":")
    ? `"[${side.clientIp}]"`
    : side.clientIp;
  const host = /^[\w.-]+$/.test(side.host) ? side.host : `"${side.host}"`;
  return `for=${ip};host=${host};proto=${side.scheme}`;
}

const REQUEST_ID = /^[\w.:\-]{1,200}$/;

/** The client's X-Request-Id when it is sane, or a new one. */
export function requestIdOf(req: Request): string {
  const id = req.headers.get("x-request-id");
  return id && REQUEST_ID.test(id) ? id : crypto.randomUUID();
}
