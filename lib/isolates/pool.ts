/**
 * @module
 * The isolate pool: isolates hosted by worker processes, each `standby`
 * (runtime booted, no code) or `active` (assigned to one deployment).
 * Keeps at least `minWorkers` isolates and free >= (free + assigned) x ratio
 * while total <= `maxWorkers`; starts none above the host's CPU/memory
 * targets; assigns on demand (cold start = load an artifact into a standby);
 * scales a deployment on concurrency; stops isolates idle for `idleTimeoutMs`;
 * replaces crashed processes. Requests that find no isolate wait a bounded
 * time, then get 503. Failed boots back off (lib/backoff.ts: 100 ms doubling
 * to 30 s, reset by a boot that works) and are logged at most once a minute
 * with a count; the process a boot failed in takes no new isolate.
 */
import { Backoff, RepeatLog } from "../backoff.ts";
import { type Clock, realClock } from "../clock.ts";
import type { WorkerEvent, WorkerProcess } from "./worker_process.ts";
import { maxAssigned, wantedFree } from "./pool_policy.ts";
import { ProcessSet } from "./process_set.ts";
import type { ClientInfo } from "./unix_http.ts";
import { PoolRequests } from "./pool_requests.ts";
import {
  PoolBusyError,
  type PoolOptions,
  type PoolSettings,
  type PoolStats,
  type Target,
} from "./pool_types.ts";
import { culprits, PoolIsolate } from "./pool_isolate.ts";

export type { PoolIsolate };

export {
  type IsolateLog,
  PoolBusyError,
  type PoolOptions,
  type PoolSettings,
  type PoolStats,
  type Target,
} from "./pool_types.ts";

let seq = 0;

/** A minute without a failed boot ends a streak (backoff and its log). */
const BOOT_QUIET_MS = 60_000;

/** The isolate pool (a daemon Part). */
export class IsolatePool {
  readonly name = "isolate-pool";
  readonly #isolates = new Map<string, PoolIsolate>();
  readonly #procs: ProcessSet;
  #waiters: (() => void)[] = [];
  #timer: ReturnType<typeof setInterval> | null = null;
  #stopped = false;
  #booting = 0;
  /** Boots whose isolate is not in #isolates yet (counted as free). */
  #unregistered = 0;
  #hot = false;
  /** Requests waiting for an isolate. */
  #waiting = 0;
  /** Abnormal isolate exits by deployment key (not idle stops or retires). */
  readonly #restarts = new Map<string, number>();
  readonly #requests: PoolRequests;
  /**
   * Deployment keys whose isolates each get a process of their own: one of
   * them took its process down or left a thread spinning (Deno 2.9.6 cannot
   * stop a Worker running JS). Neighbours pay once, not on every repeat.
   */
  readonly #alone = new Set<string>();
  /**
   * Keys whose isolate is booting in a process of its own: each counts as
   * one assigned isolate until that isolate is handed out.
   */
  readonly #aloneBooting = new Set<string>();
  readonly #clock: Clock;
  readonly #bootBackoff = new Backoff({ baseMs: 100, maxMs: 30_000 });
  readonly #bootFailures: RepeatLog;
  /** No boot before this time (clock ms): the last ones failed. */
  #bootRetryAt = 0;
  #bootRetryTimer: unknown = null;
  /** When the last boot failed (clock ms), for the quiet minute. */
  #lastBootFailure = -Infinity;
  /** Boots failed since the last one that worked. */
  #bootsFailing = false;

  constructor(readonly options: PoolOptions) {
    this.#clock = options.clock ?? realClock;
    this.#bootFailures = new RepeatLog((m) => options.log.error(m), {
      clock: this.#clock,
    });
    this.#requests = new PoolRequests({
      acquire: (target, instanceId) => this.#acquire(target, instanceId),
      released: (iso) => {
        iso.end();
        if (iso.retired && iso.inflight === 0) {
          this.#stopIsolate(iso);
          this.#reconcile();
        }
        this.#wake();
      },
      broke: (iso, why) => {
        // A connection error means the isolate is dead or broken: retire it.
        this.#failed(iso);
        this.#stopIsolate(iso);
        if (/CPU budget/.test(why)) {
          this.#isolateAlone(iso.deployment, "blew its CPU budget");
          this.#drain(iso.proc);
        }
        this.#reconcile();
      },
      // read per request: a reload may change it
      get wallLimitMs() {
        return options.wallLimitMs;
      },
      log: options.log,
    });
    this.#procs = new ProcessSet(options.process, options.isolatesPerProcess, {
      onEvent: (proc, e) => this.#onEvent(proc, e),
      onCrash: (proc, code) => this.#onProcessExit(proc, code),
    });
  }

  async start(): Promise<void> {
    this.#stopped = false;
    // Sockets of an earlier daemon (killed before it could clean up) go.
    await Deno.remove(this.options.process.socketDir, { recursive: true })
      .catch(() => {});
    await Deno.mkdir(this.options.process.socketDir, {
      recursive: true,
      mode: 0o700,
    });
    this.#reconcile();
    this.#startSweep();
    await this.settled();
  }

  /**
   * Applies reloaded settings to the running pool: the sizing ratio and the
   * host targets at once, the idle timeout from the next sweep, the wall
   * limit from the next request.
   */
  reload(settings: PoolSettings): void {
    Object.assign(this.options, settings);
    if (this.#stopped) return;
    this.#startSweep();
    this.#reconcile();
  }

  /** (Re)starts the idle sweep, at a quarter of the idle timeout. */
  #startSweep(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    const sweep = Math.max(10, Math.min(1000, this.options.idleTimeoutMs / 4));
    this.#timer = setInterval(() => this.#sweepIdle(), sweep);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#clock.clearTimeout(this.#bootRetryTimer);
    this.#bootRetryTimer = null;
    this.#requests.clear();
    this.#wake();
    await this.#procs.stopAll();
    this.#isolates.clear();
  }

  /** Resolves once no isolate is booting. */
  async settled(): Promise<void> {
    while (this.#booting > 0 && !this.#stopped) await this.#changed(1000);
  }

  /** Counts of isolates (booting standbys count as free). */
  stats(): PoolStats {
    let free = 0, assigned = 0;
    for (const iso of this.#isolates.values()) {
      if (iso.state === "stopping") continue;
      // an isolate booting alone is counted by #aloneBooting below
      if (iso.deployment === null) {
        if (!iso.alone) free++;
      } else assigned++;
    }
    free += this.#unregistered;
    assigned += this.#aloneBooting.size;
    return {
      total: free + assigned,
      free,
      assigned,
      processes: this.#procs.size,
    };
  }

  /** The isolates of one deployment key (or every one), for status. */
  isolates(key?: string): PoolIsolate[] {
    return [...this.#isolates.values()].filter((i) =>
      key === undefined || i.deployment === key
    );
  }

  /**
   * How often isolates of a deployment key ended abnormally: CPU budget,
   * memory cap, uncaught error, worker process crash, a broken connection.
   */
  restarts(key: string): number {
    return this.#restarts.get(key) ?? 0;
  }

  /** The worker processes (tests crash one on purpose). */
  processes(): WorkerProcess[] {
    return this.#procs.all();
  }

  /**
   * Serves one request with an isolate of `target`. `client` says who sent
   * it (the isolate sees it as X-Forwarded-For and `info.remoteAddr`).
   */
  dispatch(
    target: Target,
    req: Request,
    client: ClientInfo & { instanceId?: string | null },
  ): Promise<Response> {
    return this.#requests.dispatch(target, req, client);
  }

  /**
   * Loads `target` into an isolate without a request (deploy-time check and
   * pre-warm); throws the load error, e.g. a syntax error or no handler.
   */
  async warm(target: Target): Promise<void> {
    const iso = await this.#acquire(target, null);
    try {
      await iso.ready;
    } finally {
      iso.end();
      if (iso.retired && iso.inflight === 0) this.#stopIsolate(iso);
    }
  }

  /** Stops the isolates of a deployment key (release replaced or removed). */
  retire(key: string): void {
    this.#alone.delete(key);
    for (const iso of this.#isolates.values()) {
      if (iso.deployment !== key) continue;
      // In-flight requests finish first; no new ones are picked.
      iso.retired = true;
      if (iso.inflight === 0) this.#stopIsolate(iso);
    }
    this.#reconcile();
  }

  /** An isolate for `target`, its in-flight count already taken. */
  async #acquire(
    target: Target,
    instanceId: string | null,
  ): Promise<PoolIsolate> {
    const iso = await this.#pick(target, instanceId);
    return iso;
  }

  /** Picks and takes (begin()) an isolate in the same tick as the choice. */
  async #pick(target: Target, instanceId: string | null) {
    const take = (iso: PoolIsolate) => {
      iso.begin();
      return iso;
    };
    const deadline = Date.now() + this.options.queueTimeoutMs;
    while (!this.#stopped) {
      const best = this.#leastBusy(target.key, instanceId);
      if (best && (instanceId || best.inflight < this.options.concurrency)) {
        return take(best);
      }
      const assigned = this.stats().assigned;
      if (assigned >= maxAssigned(this.options)) {
        const victim = this.#lruIdle(target.key);
        if (victim) this.#stopIsolate(victim);
        else if (best) return take(best);
      }
      const room = this.stats().assigned < maxAssigned(this.options);
      const alone = this.#alone.has(target.key);
      if (alone) {
        // like a standby boot: none while the host is over its targets
        if (
          room && !this.#hot && !this.#aloneBooting.has(target.key) &&
          !this.#bootsPaused()
        ) {
          const iso = await this.#bootAlone(target, instanceId);
          if (iso) return take(iso);
        }
      } else {
        const standby = [...this.#isolates.values()].find((i) =>
          i.state === "standby"
        );
        if (standby && room) {
          return take(this.#assign(standby, target, instanceId));
        }
      }
      if (best) return take(best);
      const left = deadline - Date.now();
      if (left <= 0) break;
      // A waiting request counts as demand for one more standby (not
      // when it waits for an isolate of its own: it cannot use one).
      if (alone) {
        await this.#changed(left);
        continue;
      }
      this.#waiting++;
      try {
        this.#reconcile();
        await this.#changed(left);
      } finally {
        this.#waiting--;
      }
    }
    throw new PoolBusyError(`no isolate for ${target.key}`);
  }

  /** The deployment's usable isolate with the fewest requests in flight. */
  #leastBusy(key: string, instanceId: string | null): PoolIsolate | undefined {
    let best: PoolIsolate | undefined;
    for (const i of this.#isolates.values()) {
      if (
        i.deployment === key && i.instanceId === instanceId &&
        i.state !== "stopping" && !i.retired &&
        (best === undefined || i.inflight < best.inflight)
      ) best = i;
    }
    return best;
  }

  /** Loads `target` into the standby `iso` (a cold start). */
  #assign(
    iso: PoolIsolate,
    target: Target,
    instanceId: string | null,
  ): PoolIsolate {
    iso.assign(target, instanceId);
    iso.ready.catch((err) => {
      this.options.log.warn(
        `${target.key} failed to load in ${iso.id}: ${err.message}`,
      );
      this.#stopIsolate(iso);
    });
    this.#reconcile();
    return iso;
  }

  /**
   * Boots an isolate for `target` in a new process of its own (see
   * `#alone`); undefined when that failed (logged).
   */
  async #bootAlone(
    target: Target,
    instanceId: string | null,
  ): Promise<PoolIsolate | undefined> {
    const id = `iso-${++seq}`;
    const key = target.key;
    // still wanted: the pool runs and the release was not retired meanwhile
    const wanted = () => !this.#stopped && this.#alone.has(key);
    this.#aloneBooting.add(key);
    let proc: WorkerProcess | undefined;
    let iso: PoolIsolate | undefined;
    try {
      proc = await this.#procs.spawnAlone(id);
      if (!wanted()) return undefined;
      iso = new PoolIsolate(id, proc);
      iso.alone = true;
      // "booting": no other request takes it as a standby meanwhile
      this.#isolates.set(id, iso);
      await proc.createIsolate(id);
      if (iso.state !== "booting" || !wanted()) return undefined;
      iso.state = "standby";
      this.#bootWorked();
      const ready = this.#assign(iso, target, instanceId);
      iso = undefined;
      return ready;
    } catch (err) {
      if (!this.#stopped) {
        this.#bootFailed("boot", `isolate boot for ${key} alone`, err as Error);
      }
      return undefined;
    } finally {
      // not handed out: nothing else may use its process
      if (iso) this.#stopIsolate(iso);
      else if (proc && !this.#isolates.has(id)) {
        proc.isolates.delete(id);
        this.#procs.dropIfEmpty(proc);
      }
      this.#aloneBooting.delete(key);
      this.#wake();
    }
  }

  /** From now on each isolate of `key` runs in a process of its own. */
  #isolateAlone(key: string | null, why: string): void {
    if (key === null || this.#alone.has(key)) return;
    this.#alone.add(key);
    this.options.log.warn(
      `${key} ${why}: its isolates now run in a process of their own`,
    );
  }

  #lruIdle(except: string): PoolIsolate | undefined {
    return [...this.#isolates.values()]
      .filter((i) =>
        i.state === "active" && i.inflight === 0 && i.deployment !== except
      )
      .sort((a, b) => a.lastActivity - b.lastActivity)[0];
  }

  #sweepIdle(): void {
    const now = Date.now();
    let stopped = false;
    for (const iso of this.#isolates.values()) {
      if (
        iso.state === "active" && iso.inflight === 0 &&
        now - iso.lastActivity >= (iso.idleMs ?? this.options.idleTimeoutMs)
      ) {
        this.options.log.debug(`${iso.id} of ${iso.deployment} idle: stopped`);
        this.#stopIsolate(iso);
        stopped = true;
      }
    }
    if (stopped) this.#reconcile();
  }

  #stopIsolate(iso: PoolIsolate): void {
    if (iso.state === "stopping") return;
    iso.kill("stopped");
    this.#isolates.delete(iso.id);
    const proc = iso.proc;
    void proc.stopIsolate(iso.id).then(() => this.#procs.dropIfEmpty(proc));
    this.#wake();
  }

  /** Boots or stops standbys so the counts meet the settings. */
  #reconcile(): void {
    if (this.#stopped) return;
    const o = this.options;
    const { free, assigned, total } = this.stats();
    const want = Math.max(
      wantedFree(o, assigned),
      Math.min(this.#waiting, o.maxWorkers - assigned),
    );
    const load = o.hostLoad();
    const hot = load.cpu > o.cpuPctTarget || load.mem > o.memPctTarget;
    if (hot !== this.#hot) {
      this.#hot = hot;
      const what = `cpu ${load.cpu.toFixed(2)}, mem ${load.mem.toFixed(2)}`;
      if (hot) {
        o.log.warn(
          `host above its CPU/memory target (${what}): no new isolates`,
        );
      } else o.log.info(`host back under its CPU/memory target (${what})`);
    }
    // While hot, only the min_workers floor is refilled.
    const cap = hot ? Math.min(o.minWorkers, o.maxWorkers) : o.maxWorkers;
    // After failed boots, none until the backoff's timer reconciles again.
    const paused = this.#bootsPaused();
    for (let i = 0, n = want - free; !paused && i < n && total + i < cap; i++) {
      void this.#boot();
    }
    if (free > want) {
      const extra = [...this.#isolates.values()]
        .filter((i) => i.state === "standby").slice(0, free - want);
      for (const iso of extra) this.#stopIsolate(iso);
    }
  }

  async #boot(): Promise<void> {
    const id = `iso-${++seq}`;
    this.#booting++;
    let proc: WorkerProcess | undefined;
    this.#unregistered++;
    let registered = false;
    try {
      proc = await this.#procs.withRoom(id);
      const iso = new PoolIsolate(id, proc);
      this.#isolates.set(id, iso);
      this.#unregistered--;
      registered = true;
      await proc.createIsolate(id);
      if (iso.state === "booting") iso.state = "standby";
      this.#bootWorked();
    } catch (err) {
      this.#isolates.delete(id);
      if (!this.#stopped) {
        this.#bootFailed("boot", "isolate boot", err as Error);
      }
      // a process that failed a boot (its control socket gone, say) takes no
      // new isolate: the next boot spawns a fresh one
      if (proc) this.#procs.drain(proc);
    } finally {
      if (!registered) this.#unregistered--;
      this.#booting--;
      this.#wake();
    }
  }

  /** True while failed boots hold new ones back. */
  #bootsPaused(): boolean {
    return this.#clock.now() < this.#bootRetryAt;
  }

  /**
   * Backs boots off, logs (throttled) and reconciles once the wait is over.
   * `cause` is a boot that failed, or a process that crashed hosting no
   * deployment. A streak of them ends after a quiet minute, not with the
   * next boot that works: a process that crashes after each good boot would
   * otherwise be replaced at full speed, logging every time.
   */
  #bootFailed(cause: "boot" | "crash", what: string, err: Error): void {
    const now = this.#clock.now();
    if (now - this.#lastBootFailure >= BOOT_QUIET_MS) {
      this.#bootBackoff.reset();
      this.#bootFailures.ok();
    }
    this.#lastBootFailure = now;
    if (cause === "boot") this.#bootsFailing = true;
    // boots that were under way together fail together: one backoff step
    if (now >= this.#bootRetryAt) {
      this.#bootRetryAt = now + this.#bootBackoff.fail();
    }
    const wait = this.#bootRetryAt - now;
    this.#bootFailures.fail(
      `${what} failed: ${err.message}; next boot in ${
        Math.round(wait / 100) / 10
      }s`,
    );
    this.#clock.clearTimeout(this.#bootRetryTimer);
    this.#bootRetryTimer = this.#clock.setTimeout(() => {
      this.#bootRetryTimer = null;
      this.#reconcile();
      this.#wake();
    }, wait);
  }

  /** A boot worked: after failed boots, says so once. */
  #bootWorked(): void {
    if (!this.#bootsFailing) return;
    this.#bootsFailing = false;
    this.options.log.info(
      `isolate boots work again after ${this.#bootFailures.ok()} failures`,
    );
  }

  #onEvent(proc: WorkerProcess, e: WorkerEvent): void {
    const iso = this.#isolates.get(e.id);
    if (e.ev === "active") iso?.touch();
    else if (e.ev === "stuck" || e.ev === "unstuck") {
      if (iso) iso.stuckAt = e.ev === "stuck" ? Date.now() : 0;
    } else if (e.ev === "log") {
      this.options.onLog?.({
        deployment: iso?.deployment ?? "",
        isolate: e.id,
        level: e.level,
        msg: e.msg,
        time: Date.now(),
      });
    } else if (e.ev === "exit" && iso && iso.state !== "stopping") {
      this.options.log.warn(
        `isolate ${e.id} of ${iso.deployment}: ${e.reason}`,
      );
      this.#failed(iso);
      iso.kill(e.reason);
      this.#isolates.delete(e.id);
      this.#procs.dropIfEmpty(proc);
      if (/CPU budget/.test(e.reason)) {
        this.#isolateAlone(iso.deployment, "blew its CPU budget");
        this.#drain(proc);
      }
      this.#reconcile();
      this.#wake();
    }
  }

  #onProcessExit(proc: WorkerProcess, code: number): void {
    if (this.#stopped) return;
    const gone = [...this.#isolates.values()].filter((i) => i.proc === proc);
    // With no deployment's code in it, the platform is at fault, not a
    // tenant: its replacement waits like a failed boot (no crash loop).
    if (gone.every((i) => i.deployment === null)) {
      this.#bootFailed(
        "crash",
        "an isolate worker process hosting no deployment",
        new Error(`${proc.name} exited with code ${code}`),
      );
    } else {
      this.options.log.warn(
        `isolate worker process ${proc.name} exited (code ${code}): its isolates are gone`,
      );
    }
    for (const c of culprits(gone)) {
      this.#isolateAlone(c.deployment, "took its worker process down");
    }
    for (const iso of gone) {
      this.#failed(iso);
      iso.kill(`worker process exited with code ${code}`);
      this.#isolates.delete(iso.id);
    }
    this.#reconcile();
    this.#wake();
  }

  /**
   * Moves every isolate off `proc`: in Deno 2.9.6 `Worker.terminate()` does
   * not interrupt running JS, so an isolate stopped for its CPU budget keeps
   * its thread spinning until the process exits. Its neighbours finish their
   * requests and are stopped (the next request cold-starts elsewhere).
   */
  #drain(proc: WorkerProcess): void {
    if (this.#stopped) return;
    for (const iso of [...this.#isolates.values()]) {
      if (iso.proc !== proc) continue;
      iso.retired = true;
      if (iso.inflight === 0) this.#stopIsolate(iso);
    }
    this.#procs.drain(proc);
    this.#reconcile();
  }

  /** Counts an abnormal exit of an assigned isolate, once. */
  #failed(iso: PoolIsolate): void {
    if (iso.failed || iso.deployment === null) return;
    iso.failed = true;
    this.#restarts.set(iso.deployment, this.restarts(iso.deployment) + 1);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #changed(timeoutMs: number): Promise<void> {
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
