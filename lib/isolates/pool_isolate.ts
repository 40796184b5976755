/**
 * @module
 * One isolate as the pool sees it: where it lives, what it serves, how busy
 * it is and when it last saw traffic (for idle shutdown).
 */
import type { StopCause, WorkerProcess } from "./worker_process.ts";

export type { StopCause };

/** Lifecycle of a pooled isolate. */
export type IsolateState =
  | "booting"
  | "standby"
  | "loading"
  | "active"
  | "stopping";

/** A pooled isolate. */
export class PoolIsolate {
  #state: IsolateState = "booting";
  /** Deployment key (`name@release`) once assigned. */
  deployment: string | null = null;
  /** The instance id this isolate is dedicated to, if any. */
  instanceId: string | null = null;
  inflight = 0;
  /** The deployment's own idle timeout, if it has one. */
  idleMs: number | undefined = undefined;
  /** Its release was replaced or removed: stop once in-flight is done. */
  retired = false;
  served = 0;
  lastActivity = Date.now();
  /** Counted once as an abnormal exit (CPU, memory, crash). */
  failed = false;
  /**
   * Since when its process reports it stuck in synchronous code (a ping
   * unanswered); 0 once it answered again.
   */
  stuckAt = 0;
  /** Booted in a process of its own (see the pool's `#alone`). */
  alone = false;
  /** Why it stopped, once it did (its process reports it as a value). */
  stopCause: StopCause | null = null;
  /** Aborts of the requests in flight (fired when the isolate dies). */
  readonly requests = new Set<AbortController>();
  /** Aborted (with the reason) when the isolate dies or is stopped. */
  readonly gone = new AbortController();
  /** Resolves when the deployment's code is loaded. */
  ready: Promise<void> = Promise.resolve();

  constructor(readonly id: string, readonly proc: WorkerProcess) {}

  /** Where it is in its lifecycle; changed by `to()` only. */
  get state(): IsolateState {
    return this.#state;
  }

  /**
   * The one place its state changes. A stopping isolate stays stopping;
   * `booting -> standby` and `loading -> active` happen only from the
   * state before (a stop meanwhile wins). Returns whether it moved.
   */
  to(next: IsolateState): boolean {
    const now = this.#state;
    if (now === "stopping") return false;
    if (next === "standby" && now !== "booting") return false;
    if (next === "active" && now !== "loading") return false;
    this.#state = next;
    return true;
  }

  /** Loads a deployment into this standby isolate. */
  assign(
    target: {
      key: string;
      url: string;
      env: Record<string, string>;
      inline?: boolean;
      idleMs?: number;
    },
    instanceId: string | null,
  ): void {
    this.to("loading");
    this.deployment = target.key;
    this.idleMs = target.idleMs;
    this.instanceId = instanceId;
    this.touch();
    this.ready = this.proc.loadIsolate(
      this.id,
      target.url,
      target.env,
      target.inline === true,
    ).then(
      () => {
        this.to("active");
      },
    );
  }

  /**
   * Marks the isolate stopping and aborts its requests; `reason` is the
   * sentence for logs and errors, `cause` the value code acts on.
   */
  kill(cause: StopCause, reason: string): void {
    this.to("stopping");
    this.stopCause ??= cause;
    if (!this.gone.signal.aborted) this.gone.abort(reason);
    for (const r of this.requests) r.abort(new Error(reason));
    this.proc.forget(this.id);
  }

  begin(): void {
    this.inflight++;
    this.served++;
    this.touch();
  }

  end(): void {
    this.inflight--;
    this.touch();
  }

  touch(): void {
    this.lastActivity = Date.now();
  }
}
