/**
 * @module
 * What the parts of the isolate pool share (lib/isolates/pool.ts builds it):
 * the settings, the clock, the isolates by id, the worker processes and the
 * notifier, and the one way an isolate leaves the pool.
 */
import type { Clock } from "../clock.ts";
import type { Notifier } from "./pool_notifier.ts";
import type { PoolIsolate, StopCause } from "./pool_isolate.ts";
import type { PoolOptions } from "./pool_types.ts";
import type { ProcessSet } from "./process_set.ts";

/** The pool's shared state. */
export interface PoolState {
  readonly options: PoolOptions;
  readonly clock: Clock;
  readonly isolates: Map<string, PoolIsolate>;
  readonly procs: ProcessSet;
  readonly notifier: Notifier;
  /** stop() was called: nothing boots or waits any more. */
  stopped: boolean;
}

/**
 * Takes `iso` out of the pool and tells its process to stop it (its
 * process stops once empty); waiters look again.
 */
export function stopIsolate(
  s: PoolState,
  iso: PoolIsolate,
  cause: StopCause = "stopped",
): void {
  if (iso.state === "stopping") return;
  iso.kill(cause, cause);
  s.isolates.delete(iso.id);
  const proc = iso.proc;
  void proc.stopIsolate(iso.id).then(() => s.procs.dropIfEmpty(proc));
  s.notifier.wake();
}
