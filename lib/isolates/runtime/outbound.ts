/**
 * @module
 * Outbound traffic of an isolate counts as activity for idle shutdown: a
 * function that long-polls outward or streams from an outbound fetch is not
 * idle. Wraps `fetch` (installed before user code runs); the runtime asks
 * `moved()` on each pong, so nothing is sent per request. Imports nothing of
 * the daemon.
 */

let pending = 0;
let moved = false;

/** Wraps this isolate's `fetch`; returns a poll of "active since last asked". */
export function trackOutbound(): () => boolean {
  const inner = globalThis.fetch;
  globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    pending++;
    moved = true;
    let res: Response;
    try {
      res = await inner(input, init);
    } finally {
      pending--;
    }
    if (!res.body) return res;
    // Each chunk of a streamed body is activity too.
    const body = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, c) {
          moved = true;
          c.enqueue(chunk);
        },
      }),
    );
    const out = new Response(body, res);
    Object.defineProperties(out, {
      url: { value: res.url },
      redirected: { value: res.redirected },
    });
    return out;
  };
  return () => {
    const active = moved || pending > 0;
    moved = false;
    return active;
  };
}
