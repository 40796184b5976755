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

const HOP_SET = new Set(HOP_BY_HOP);

/**
 * Appends an upstream's response header pairs (names lower-cased) to `h`,
 * minus hop-by-hop headers, those named in its Connection header and those
 * in `skip`.
 */
export function appendEndToEnd(
  h: Headers,
  pairs: [string, string][],
  skip?: Set<string>,
): void {
  let drop = HOP_SET;
  for (const [k, v] of pairs) {
    if (k !== "connection") continue;
    if (drop === HOP_SET) drop = new Set(HOP_SET);
    for (const n of v.split(",")) drop.add(n.trim().toLowerCase());
  }
  for (const [k, v] of pairs) {
    if (!drop.has(k) && !skip?.has(k)) h.append(k, v);
  }
}

/** What the proxy knows about the client side of a request. */
export interface ClientSide {
  clientIp: string;
  scheme: "http" | "https";
  /** Host header as the client sent it (port included). */
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

const HOP = new Set([...HOP_BY_HOP, "x-forwarded-proto", "x-forwarded-host"]);

/** The header pairs to send upstream: hop-by-hop dropped, X-Forwarded-* set. */
export function upstreamHeaders(
  head: RequestHead,
  side: ClientSide,
): [string, string][] {
  let drop: Set<string> = HOP;
  let prior: string | undefined;
  const out: [string, string][] = [];
  for (const [k, v] of head.pairs) {
    if (k === "connection") {
      drop = new Set(HOP);
      for (const n of v.split(",")) drop.add(n.trim().toLowerCase());
    }
  }
  for (const pair of head.pairs) {
    const k = pair[0];
    if (drop.has(k) || k === "x-request-id") continue;
    if (k === "x-forwarded-for") prior = pair[1];
    else out.push(pair);
  }
  out.push(
    ["x-forwarded-for", prior ? `${prior}, ${side.clientIp}` : side.clientIp],
    ["x-forwarded-proto", side.scheme],
    ["x-forwarded-host", side.host],
    ["x-request-id", side.requestId],
  );
  return out;
}

const REQUEST_ID = /^[\w.:\-]{1,200}$/;

/** The client's X-Request-Id when it is sane, or a new one. */
export function requestIdOf(req: Request): string {
  const id = req.headers.get("x-request-id");
  return id && REQUEST_ID.test(id) ? id : crypto.randomUUID();
}
