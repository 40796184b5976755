/**
 * @module
 * Request body limits enforced while the body streams through: at most
 * `maxBytes` (413), and received completely within `deadlineMs` of the
 * request's start (408, slow clients).
 */

/** A request body broke a limit; `status` is the answer to give. */
export class LimitError extends Error {
  override name = "LimitError";
  constructor(readonly status: 408 | 413) {
    super(status === 413 ? "request body too large" : "request body too slow");
  }
}

/** Records the first limit a body broke. */
export interface Tripwire {
  tripped?: LimitError;
  /** Stops the deadline timer (call when the request is over). */
  dispose?: () => void;
}

/**
 * Wraps `body` so that it errors with a LimitError when it grows past
 * `maxBytes` or is not finished after `deadlineMs`. `trip` records which.
 */
export function guardBody(
  body: ReadableStream<Uint8Array>,
  opts: { maxBytes: number; deadlineMs: number },
  trip: Tripwire,
): ReadableStream<Uint8Array> {
  let seen = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  trip.dispose = () => clearTimeout(timer);
  const fail = (
    c: TransformStreamDefaultController<Uint8Array>,
    e: LimitError,
  ) => {
    trip.tripped ??= e;
    clearTimeout(timer);
    c.error(e);
    body.cancel(e).catch(() => {});
  };
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      start(c) {
        timer = setTimeout(() => fail(c, new LimitError(408)), opts.deadlineMs);
      },
      transform(chunk, c) {
        seen += chunk.byteLength;
        if (seen > opts.maxBytes) return fail(c, new LimitError(413));
        c.enqueue(chunk);
      },
      flush() {
        clearTimeout(timer);
      },
      cancel() {
        clearTimeout(timer);
      },
    }),
  );
}
