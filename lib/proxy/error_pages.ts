/**
 * @module
 * Short, generic error pages: a status and its reason, never internal
 * details (upstream addresses, stack traces).
 */

const REASONS: Record<number, string> = {
  400: "Bad Request",
  404: "Not Found",
  408: "Request Timeout",
  413: "Content Too Large",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** A small HTML page for `status`, with `headers` added. */
export function errorPage(status: number, headers?: HeadersInit): Response {
  const reason = REASONS[status] ?? "Error";
  const h = new Headers(headers);
  h.set("content-type", "text/html; charset=utf-8");
  h.set("cache-control", "no-store");
  if (status === 408 || status === 413 || status === 431) {
    h.set("connection", "close");
  }
  return new Response(
    `<!doctype html><title>${status} ${reason}</title><h1>${status} ${reason}</h1>\n`,
    { status, headers: h },
  );
}
