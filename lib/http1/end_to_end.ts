/**
 * @module
 * The end-to-end rule of HTTP/1.1 (RFC 9110 7.6.1) for answers passed on
 * from an upstream: hop-by-hop headers, and those named in Connection, are
 * dropped. Used by the proxy (lib/proxy/forward.ts) and by the isolates'
 * Unix-socket client (lib/isolates/unix_http.ts).
 */
import type { H1Response } from "./client.ts";

/** Hop-by-hop header names (RFC 9110 7.6.1 and the usual extras). */
export const HOP_BY_HOP = [
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
