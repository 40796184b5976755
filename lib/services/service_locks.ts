/**
 * @module
 * One deploy (or rollback, restart, removal) per service at a time: a second
 * one waits in line and says so through its progress callback.
 */

/** A per-service queue of operations. */
export class ServiceLocks {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** True while an operation on `service` runs or waits. */
  busy(service: string): boolean {
    return this.#tails.has(service);
  }

  /** Runs `fn` once every earlier operation on `service` ended. */
  async run<T>(
    service: string,
    fn: () => Promise<T>,
    onQueued?: () => void,
  ): Promise<T> {
    const before = this.#tails.get(service);
    if (before) onQueued?.();
    const mine = (async () => {
      await before?.catch(() => {});
      return await fn();
    })();
    this.#tails.set(service, mine);
    try {
      return await mine;
    } finally {
      if (this.#tails.get(service) === mine) this.#tails.delete(service);
    }
  }
}
