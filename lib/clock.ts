/**
 * @module
 * The daemon's time source, so that tests move time instead of waiting for
 * it: wall-clock time, one-shot timers, and a sleep that a signal cuts short.
 */

/** Wall-clock time and one-shot timers. */
export interface Clock {
  now(): number;
  setTimeout(cb: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** The real clock. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (cb, ms) => setTimeout(cb, ms),
  clearTimeout: (id) => clearTimeout(id as number),
};

/** Resolves after `ms` on `clock`, or at once when `signal` aborts. */
export function sleep(
  ms: number,
  opts: { clock?: Clock; signal?: AbortSignal } = {},
): Promise<void> {
  const clock = opts.clock ?? realClock;
  const { signal } = opts;
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clock.clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
