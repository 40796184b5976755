/**
 * @module
 * Per-request time limits without a timer per request. In Deno 2.9.6 a
 * `setTimeout` + `clearTimeout` pair costs about as much CPU as a whole
 * bare `Deno.serve` request (measured: 8 µs), and the proxy and the isolate
 * pool set one on every request. A `Deadlines` list keeps one interval while
 * anything is pending and fires each entry at most `tickMs` late.
 */

/** A pending deadline; `clear()` it when the work finished in time. */
export interface Deadline {
  clear(): void;
}

class Entry implements Deadline {
  constructor(
    readonly owner: Deadlines,
    readonly at: number,
    readonly fire: () => void,
  ) {}
  clear(): void {
    this.owner.delete(this);
  }
}

/** A set of deadlines swept by one interval timer. */
export class Deadlines {
  readonly #entries = new Set<Entry>();
  #timer: ReturnType<typeof setInterval> | null = null;

  /** `tickMs` bounds how late a deadline fires. */
  constructor(readonly tickMs = 25) {}

  /** Calls `fire` once `ms` have passed, unless cleared first. */
  add(ms: number, fire: () => void): Deadline {
    const e = new Entry(this, performance.now() + ms, fire);
    this.#entries.add(e);
    this.#timer ??= setInterval(() => this.#sweep(), this.tickMs);
    return e;
  }

  /** Entries still pending. */
  get size(): number {
    return this.#entries.size;
  }

  /** @internal used by `Deadline.clear()` */
  delete(e: Entry): void {
    this.#entries.delete(e);
  }

  /** Drops every pending entry without firing it. */
  clear(): void {
    this.#entries.clear();
    this.#stopIfIdle();
  }

  #sweep(): void {
    const now = performance.now();
    for (const e of this.#entries) {
      if (e.at > now) continue;
      this.#entries.delete(e);
      e.fire();
    }
    this.#stopIfIdle();
  }

  #stopIfIdle(): void {
    if (this.#entries.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }
}
