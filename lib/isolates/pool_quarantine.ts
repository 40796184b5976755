/**
 * @module
 * The pool's quarantine: releases whose isolates each get a worker process
 * of their own ("alone"), because one of them took its process down or left
 * a thread spinning (Deno 2.9.6 cannot stop a Worker running JS).
 * Neighbours pay once, not on every repeat. Also who is to blame when a
 * process dies.
 */
import type { Logger } from "../log.ts";
import type { PoolIsolate } from "./pool_isolate.ts";

/** Deployment keys whose isolates run alone. */
export class Quarantine {
  readonly #alone = new Set<string>();

  constructor(readonly log: Logger) {}

  /** The release's isolates run in processes of their own. */
  has(key: string): boolean {
    return this.#alone.has(key);
  }

  /** The release is gone (replaced or removed): forget it. */
  forget(key: string): void {
    this.#alone.delete(key);
  }

  /** From now on each isolate of `key` runs in a process of its own. */
  isolate(key: string | null, why: string): void {
    if (key === null || this.#alone.has(key)) return;
    this.#alone.add(key);
    this.log.warn(
      `${key} ${why}: its isolates now run in a process of their own`,
    );
  }

  /** Quarantines the releases to blame for their process's crash. */
  blame(gone: PoolIsolate[]): void {
    for (const c of culprits(gone)) {
      this.isolate(c.deployment, "took its worker process down");
    }
  }
}

/**
 * The isolates to blame for their process's crash: those stuck in
 * synchronous code when it died (a heap bomb never yields), else those with
 * requests in flight (a crash faster than a ping). Only assigned isolates
 * can be blamed.
 */
export function culprits(isolates: PoolIsolate[]): PoolIsolate[] {
  const assigned = isolates.filter((i) => i.deployment !== null);
  const stuck = assigned.filter((i) => i.stuckAt > 0);
  return stuck.length ? stuck : assigned.filter((i) => i.inflight > 0);
}
