/**
 * @module
 * When is an isolate done with a request? A fixed-size body is done when its
 * head is; a stream (no length) keeps the isolate busy, and counts as
 * traffic for idle shutdown, until it ends or the client cancels it.
 */

/**
 * Returns `res` with `done` called once its body is finished; `sized` says
 * its length is known (or it has none).
 */
export function trackBody(
  res: Response,
  sized: boolean,
  onChunk: () => void,
  done: () => void,
): Response {
  // not `res.body` first: reading it turns a bytes body into a stream
  if (sized || !res.body) {
    done();
    return res;
  }
  const body = res.body.pipeThrough(
    new TransformStream({
      transform: (chunk, c) => {
        onChunk();
        c.enqueue(chunk);
      },
      flush: done,
      // A client that goes away cancels the body: the isolate is free.
      cancel: done,
    } as Transformer<Uint8Array, Uint8Array>),
  );
  return new Response(body, res);
}
