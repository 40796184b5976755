/**
 * @module
 * The pool's one condition variable: waiters (requests queued for an
 * isolate, `settled()`) sleep until something changed (an isolate booted,
 * stopped or finished a request) or their timeout is up, then look again.
 */

/** Wakes every waiter at each change; each wait is bounded. */
export class Notifier {
  #waiters: (() => void)[] = [];

  /** Something changed: every waiter looks again. */
  wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves at the next `wake()`, or after `timeoutMs`. */
  changed(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#waiters.push(done);
    });
  }
}
