/**
 * @module
 * When is an isolate done with a request? An answer whose body is all here
 * is done at once; a body still streaming (with a length or without) keeps
 * the isolate busy, under the wall limit and counting as traffic for idle
 * shutdown, until it ends or the client cancels it.
 */

/**
 * Returns `res` with `done` called once its body is finished; `complete`
 * says the body is all here already (or there is none).
 */
export function trackBody(
  res: Response,
  complete: boolean,
  onChunk: () => void,
  done: () => void,
): Response {
  // not `res.body` first: reading it turns a bytes body into a stream
  if (complete || !res.body) {
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
