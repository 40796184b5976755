/**
 * @module
 * Lets a long synchronous unpack give the event loop a turn every few
 * milliseconds, so the proxy in the same process keeps serving meanwhile.
 */

/** Returns a function to await often; it yields once per `sliceMs`. */
export function yielder(sliceMs = 8): () => Promise<void> | undefined {
  let last = performance.now();
  return () => {
    const now = performance.now();
    if (now - last < sliceMs) return undefined;
    return new Promise<void>((resolve) =>
      setTimeout(() => {
        last = performance.now();
        resolve();
      }, 0)
    );
  };
}
