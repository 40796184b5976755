/**
 * @module
 * What the pool does when something goes wrong: the events of worker
 * processes (an isolate stopped for its CPU budget, its memory cap, an
 * uncaught error; stuck and unstuck; console lines; outbound activity), a
 * process that exits on its own (its isolates are gone, the culprits are
 * quarantined), a request whose connection broke, and the drain of a
 * process left with a spinning thread. Counts abnormal exits per release.
 */
import type { PoolIsolate, StopCause } from "./pool_isolate.ts";
import type { Quarantine } from "./pool_quarantine.ts";
import { type PoolState, stopIsolate } from "./pool_state.ts";
import type { PoolSupply } from "./pool_supply.ts";
import type { WorkerEvent, WorkerProcess } from "./worker_process.ts";

/** The pool's failure handling. */
export class PoolFailures {
  /** Abnormal isolate exits by deployment key (not idle stops or retires). */
  readonly #restarts = new Map<string, number>();

  constructor(
    readonly s: PoolState,
    readonly supply: PoolSupply,
    readonly quarantine: Quarantine,
  ) {}

  /** How often isolates of a deployment key ended abnormally. */
  restarts(key: string): number {
    return this.#restarts.get(key) ?? 0;
  }

  /** Counts an abnormal exit of an assigned isolate, once. */
  failed(iso: PoolIsolate): void {
    if (iso.failed || iso.deployment === null) return;
    iso.failed = true;
    this.#restarts.set(iso.deployment, this.restarts(iso.deployment) + 1);
  }

  /** An isolate's connection broke while it served a request. */
  broke(iso: PoolIsolate, cause: StopCause): void {
    // A connection error means the isolate is dead or broken: retire it.
    this.failed(iso);
    stopIsolate(this.s, iso, cause);
    if (cause === "cpu") this.#spinning(iso);
    this.supply.reconcile();
  }

  /** An event of a worker process. */
  onEvent(proc: WorkerProcess, e: WorkerEvent): void {
    const iso = this.s.isolates.get(e.id);
    if (e.ev === "active") iso?.touch();
    else if (e.ev === "stuck" || e.ev === "unstuck") {
      if (iso) iso.stuckAt = e.ev === "stuck" ? Date.now() : 0;
    } else if (e.ev === "log") {
      this.s.options.onLog?.({
        deployment: iso?.deployment ?? "",
        isolate: e.id,
        level: e.level,
        msg: e.msg,
        time: Date.now(),
      });
    } else if (e.ev === "exit" && iso && iso.state !== "stopping") {
      this.s.options.log.warn(
        `isolate ${e.id} of ${iso.deployment}: ${e.reason}`,
      );
      this.failed(iso);
      iso.kill(e.cause, e.reason);
      this.s.isolates.delete(e.id);
      this.s.procs.dropIfEmpty(proc);
      if (e.cause === "cpu") this.#spinning(iso);
      this.supply.reconcile();
      this.s.notifier.wake();
    }
  }

  /** A worker process exited that was not asked to (crash, OOM kill). */
  onProcessExit(proc: WorkerProcess, code: number): void {
    if (this.s.stopped) return;
    const gone = [...this.s.isolates.values()].filter((i) => i.proc === proc);
    // With no deployment's code in it, the platform is at fault, not a
    // tenant: its replacement waits like a failed boot (no crash loop).
    if (gone.every((i) => i.deployment === null)) {
      this.supply.failed(
        "crash",
        "an isolate worker process hosting no deployment",
        new Error(`${proc.name} exited with code ${code}`),
      );
    } else {
      this.s.options.log.warn(
        `isolate worker process ${proc.name} exited (code ${code}): its isolates are gone`,
      );
    }
    this.quarantine.blame(gone);
    for (const iso of gone) {
      this.failed(iso);
      iso.kill("crash", `worker process exited with code ${code}`);
      this.s.isolates.delete(iso.id);
    }
    this.supply.reconcile();
    this.s.notifier.wake();
  }

  /** `iso` was stopped for its CPU budget: its thread may still spin. */
  #spinning(iso: PoolIsolate): void {
    this.quarantine.isolate(iso.deployment, "blew its CPU budget");
    this.drain(iso.proc);
  }

  /**
   * Moves every isolate off `proc`: in Deno 2.9.6 `Worker.terminate()` does
   * not interrupt running JS, so an isolate stopped for its CPU budget keeps
   * its thread spinning until the process exits. Its neighbours finish their
   * requests and are stopped (the next request cold-starts elsewhere).
   */
  drain(proc: WorkerProcess): void {
    if (this.s.stopped) return;
    for (const iso of [...this.s.isolates.values()]) {
      if (iso.proc !== proc) continue;
      iso.retired = true;
      if (iso.inflight === 0) stopIsolate(this.s, iso);
    }
    this.s.procs.drain(proc);
    this.supply.reconcile();
  }
}
