/**
 * Manual time for tests of timers and retry loops: nothing fires until the
 * test calls `advance()`.
 */
import type { Clock } from "../lib/clock.ts";

/** Manual time: timers fire only when the test advances the clock. */
export class FakeClock implements Clock {
  t = Date.parse("2030-01-01T00:00:00Z");
  #timers = new Map<number, { at: number; cb: () => void }>();
  #id = 0;
  now = () => this.t;
  setTimeout = (cb: () => void, ms: number) => {
    this.#timers.set(++this.#id, { at: this.t + ms, cb });
    return this.#id;
  };
  clearTimeout = (id: unknown) => {
    this.#timers.delete(id as number);
  };
  advance(ms: number): void {
    this.t += ms;
    for (const [id, timer] of [...this.#timers]) {
      if (timer.at <= this.t) {
        this.#timers.delete(id);
        timer.cb();
      }
    }
  }
  /**
   * Moves to the earliest timer and fires it (and any due with it); returns
   * how far time moved, or undefined when no timer is pending.
   */
  runNext(): number | undefined {
    let at: number | undefined;
    for (const timer of this.#timers.values()) {
      if (at === undefined || timer.at < at) at = timer.at;
    }
    if (at === undefined) return undefined;
    const ms = Math.max(0, at - this.t);
    this.advance(ms);
    return ms;
  }
  get pending(): number {
    return this.#timers.size;
  }
}
