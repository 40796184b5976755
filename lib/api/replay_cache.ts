/**
 * @module
 * Tokens seen recently. A token is valid for a few seconds, so remembering
 * each one a little longer than that is enough to refuse every replay.
 */

/** A set of used tokens that forgets them after `ttlMs`. */
export class ReplayCache {
  readonly #seen = new Map<string, number>();

  constructor(readonly ttlMs: number, readonly maxSize = 100_000) {}

  /** Marks `token` used at `now`; false if it was used before. */
  use(token: string, now: number): boolean {
    this.#prune(now);
    if (this.#seen.has(token)) return false;
    if (this.#seen.size >= this.maxSize) return false; // flood: refuse, never forget early
    this.#seen.set(token, now + this.ttlMs);
    return true;
  }

  /** Number of remembered tokens. */
  get size(): number {
    return this.#seen.size;
  }

  #prune(now: number): void {
    // Map keeps insertion order, and expiry grows with it.
    for (const [token, until] of this.#seen) {
      if (until > now) break;
      this.#seen.delete(token);
    }
  }
}
