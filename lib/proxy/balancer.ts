/**
 * @module
 * Picking one target among a service's usable ones: round-robin,
 * least-connections, and rendezvous (highest-random-weight) hashing, which
 * moves only the keys of a removed or added replica.
 */

/** What a balancer needs to know of a target. */
export interface Pickable {
  readonly id: string;
  /** Requests in flight. */
  inflight: number;
}

/** How a service spreads requests. */
export type BalanceMode = "round-robin" | "least-connections" | "hash";

/** 32-bit FNV-1a followed by a murmur3 finaliser (good spread, no deps). */
export function hash32(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The target with the highest hash of (key, target id). */
export function rendezvous<T extends Pickable>(
  key: string,
  targets: readonly T[],
): T | undefined {
  let best: T | undefined;
  let bestScore = -1;
  const keyHash = hash32(key);
  for (const t of targets) {
    const score = hash32(t.id, keyHash);
    if (score > bestScore) {
      best = t;
      bestScore = score;
    }
  }
  return best;
}

/** Keeps the round-robin cursor of one pool. */
export class Balancer {
  #next = 0;
  constructor(readonly mode: BalanceMode) {}

  /** Picks among `targets` (all usable); `key` is used in hash mode. */
  pick<T extends Pickable>(
    targets: readonly T[],
    key?: string,
  ): T | undefined {
    if (targets.length === 0) return undefined;
    if (this.mode === "hash" && key !== undefined) {
      return rendezvous(key, targets);
    }
    const start = this.#next++ % targets.length;
    if (this.#next > 1e9) this.#next = 0;
    if (this.mode !== "least-connections") return targets[start];
    let best = targets[start]!;
    for (let i = 1; i < targets.length; i++) {
      const t = targets[(start + i) % targets.length]!;
      if (t.inflight < best.inflight) best = t;
    }
    return best;
  }
}
