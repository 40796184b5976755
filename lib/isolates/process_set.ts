/**
 * @module
 * The worker processes of the pool: finds one with room for another isolate
 * (spawning one at a time when all are full), stops a process once its last
 * isolate is gone, drains one on request, and reports processes that exit on
 * their own (crashes).
 */
import {
  type WorkerEvent,
  WorkerProcess,
  type WorkerProcessOptions,
} from "./worker_process.ts";

/** Callbacks of a process set. */
export interface ProcessSetEvents {
  onEvent(proc: WorkerProcess, e: WorkerEvent): void;
  /** A process exited that was not asked to (crash, OOM kill). */
  onCrash(proc: WorkerProcess, code: number): void;
}

/** Worker processes hosting up to `perProcess` isolates each. */
export class ProcessSet {
  readonly #procs = new Set<WorkerProcess>();
  /** Processes that take no new isolate (they hold a stuck thread). */
  readonly #draining = new WeakSet<WorkerProcess>();
  /** Processes that host one isolate alone (see `spawnAlone`). */
  readonly #alone = new WeakSet<WorkerProcess>();
  #spawning: Promise<WorkerProcess> | null = null;
  /** Every spawn under way (shared and alone): stopAll() waits for them. */
  readonly #spawns = new Set<Promise<WorkerProcess>>();
  /** stopAll() is running: a process that comes up now is stopped. */
  #closing = false;

  constructor(
    readonly options: WorkerProcessOptions,
    readonly perProcess: number,
    readonly events: ProcessSetEvents,
  ) {}

  get size(): number {
    return this.#procs.size;
  }

  all(): WorkerProcess[] {
    return [...this.#procs];
  }

  /** A process with room for one more isolate, the slot reserved for `id`. */
  async withRoom(id: string): Promise<WorkerProcess> {
    for (;;) {
      for (const p of this.#procs) {
        if (
          !p.isExited && !this.#draining.has(p) && !this.#alone.has(p) &&
          p.isolates.size < this.perProcess
        ) {
          p.isolates.add(id);
          return p;
        }
      }
      if (!this.#spawning) {
        this.#spawning = this.#spawn().finally(() => this.#spawning = null);
      }
      await this.#spawning;
    }
  }

  /**
   * A new process for the isolate `id` alone: no other isolate is ever
   * placed in it, so whatever that isolate does to its process (a heap bomb,
   * a spinning thread) costs no neighbour. It stops with its isolate.
   */
  spawnAlone(id: string): Promise<WorkerProcess> {
    return this.#spawn(id);
  }

  #spawn(alone?: string): Promise<WorkerProcess> {
    const spawn = this.#start(alone);
    this.#spawns.add(spawn);
    const done = () => this.#spawns.delete(spawn);
    spawn.then(done, done);
    return spawn;
  }

  async #start(alone?: string): Promise<WorkerProcess> {
    const proc: WorkerProcess = new WorkerProcess(
      this.options,
      (e) => this.events.onEvent(proc, e),
    );
    await proc.start();
    if (this.#closing) {
      await proc.stop();
      throw new Error("the isolate pool is stopping");
    }
    // marked before it is listed: withRoom() never sees it with room
    if (alone !== undefined) {
      this.#alone.add(proc);
      proc.isolates.add(alone);
    }
    this.#procs.add(proc);
    void proc.exited.then((s) => {
      if (this.#procs.delete(proc)) this.events.onCrash(proc, s.code);
    });
    return proc;
  }

  /** Places no new isolate in `proc`; it stops once its last one is gone. */
  drain(proc: WorkerProcess): void {
    this.#draining.add(proc);
    this.dropIfEmpty(proc);
  }

  /** Stops `proc` if it hosts no isolate any more. */
  dropIfEmpty(proc: WorkerProcess): void {
    if (proc.isolates.size === 0 && this.#procs.delete(proc)) {
      void proc.stop();
    }
  }

  /** Stops every process. */
  async stopAll(): Promise<void> {
    this.#closing = true;
    try {
      // a spawn under way stops its own process (see #start)
      await Promise.allSettled([...this.#spawns]);
      const procs = [...this.#procs];
      this.#procs.clear();
      await Promise.all(procs.map((p) => p.stop()));
    } finally {
      this.#closing = false;
    }
  }
}
