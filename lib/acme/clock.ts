/**
 * @module
 * The time source of certificate renewal, so tests can move time instead of
 * waiting for it.
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
