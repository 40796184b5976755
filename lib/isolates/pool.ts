/**
 * @module
 * The isolate pool's facade: isolates hosted by worker processes, each
 * `standby` (runtime booted, no code) or assigned to one deployment. Each
 * request (and a deploy's load check) is placed by lib/isolates/placement.ts
 * (its own isolate, a standby, a boot, an eviction or the bounded queue) and
 * carried out here; the supply of isolates is lib/isolates/pool_supply.ts
 * (reconcile, boot, the host-load gate), quarantine pool_quarantine.ts,
 * failures pool_failures.ts, the request side pool_requests.ts. Idle
 * isolates stop after `idleTimeoutMs`.
 */
import { type Clock, realClock } from "../clock.ts";
import {
  EVICT_WHY,
  type Eviction,
  type EvictReason,
  place,
  type Placement,
  type PlacementView,
} from "./placement.ts";
import { PoolFailures } from "./pool_failures.ts";
import type { PoolIsolate } from "./pool_isolate.ts";
import { Notifier } from "./pool_notifier.ts";
import { maxAssigned } from "./pool_policy.ts";
import { Quarantine } from "./pool_quarantine.ts";
import { PoolRequests } from "./pool_requests.ts";
import { type PoolState, stopIsolate } from "./pool_state.ts";
import { PoolSupply } from "./pool_supply.ts";
import {
  PoolBusyError,
  type PoolCounters,
  type PoolOptions,
  type PoolSettings,
  type PoolStats,
  type Target,
} from "./pool_types.ts";
import { ProcessSet } from "./process_set.ts";
import type { ClientInfo } from "./unix_http.ts";
import type { WorkerProcess } from "./worker_process.ts";

export type { PoolIsolate };

export {
  type IsolateLog,
  PoolBusyError,
  type PoolCounters,
  type PoolEvents,
  type PoolOptions,
  type PoolSettings,
  type PoolStats,
  type Target,
} from "./pool_types.ts";

/** The isolate pool (a daemon Part). */
export class IsolatePool {
  readonly name = "isolate-pool";
  readonly #s: PoolState;
  readonly #supply: PoolSupply;
  readonly #quarantine: Quarantine;
  readonly #failures: PoolFailures;
  readonly #requests: PoolRequests;
  #timer: ReturnType<typeof setInterval> | null = null;
  /** When an isolate of a deployment key was last evicted (clock ms). */
  readonly #evictedAt = new Map<string, number>();
  readonly #counters = new Map<string, PoolCounters>();
  readonly #evictions: Record<EvictReason, number> = {
    "no-standby": 0,
    "max-workers": 0,
    "host-load": 0,
  };

  constructor(readonly options: PoolOptions) {
    const clock: Clock = options.clock ?? realClock;
    const s: PoolState = this.#s = {
      options,
      clock,
      isolates: new Map(),
      notifier: new Notifier(),
      stopped: false,
      procs: new ProcessSet(options.process, options.isolatesPerProcess, {
        onEvent: (proc, e) => this.#failures.onEvent(proc, e),
        onCrash: (proc, code) => this.#failures.onProcessExit(proc, code),
      }),
    };
    this.#quarantine = new Quarantine(options.log);
    this.#supply = new PoolSupply(s, this.#quarantine);
    this.#failures = new PoolFailures(s, this.#supply, this.#quarantine);
    this.#requests = new PoolRequests({
      acquire: (target, instanceId) => this.#pick(target, instanceId, true),
      released: (iso) => {
        iso.end();
        if (iso.retired && iso.inflight === 0) {
          stopIsolate(s, iso);
          this.#supply.reconcile();
        }
        s.notifier.wake();
      },
      broke: (iso, cause) => this.#failures.broke(iso, cause),
      // read per request: a reload may change it
      get wallLimitMs() {
        return options.wallLimitMs;
      },
      log: options.log,
    });
  }

  async start(): Promise<void> {
    this.#s.stopped = false;
    // Sockets of an earlier daemon (killed before it could clean up) go.
    await Deno.remove(this.options.process.socketDir, { recursive: true })
      .catch(() => {});
    await Deno.mkdir(this.options.process.socketDir, {
      recursive: true,
      mode: 0o700,
    });
    this.#supply.reconcile();
    this.#startSweep();
    await this.settled();
  }

  /**
   * Applies reloaded settings to the running pool: the sizing ratio and the
   * host targets at once, the idle timeout from the next sweep, the wall
   * limit and queue timeout from the next request.
   */
  reload(settings: PoolSettings): void {
    Object.assign(this.options, settings);
    if (this.#s.stopped) return;
    this.#startSweep();
    this.#supply.reconcile();
  }

  /** (Re)starts the idle sweep, at a quarter of the idle timeout. */
  #startSweep(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    const sweep = Math.max(10, Math.min(1000, this.options.idleTimeoutMs / 4));
    this.#timer = setInterval(() => this.#sweepIdle(), sweep);
  }

  async stop(): Promise<void> {
    this.#s.stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#supply.stop();
    this.#requests.clear();
    this.#s.notifier.wake();
    await this.#s.procs.stopAll();
    this.#s.isolates.clear();
  }

  /** Resolves once no isolate is booting. */
  async settled(): Promise<void> {
    while (this.#supply.booting > 0 && !this.#s.stopped) {
      await this.#s.notifier.changed(1000);
    }
  }

  /** Counts of isolates (booting standbys count as free). */
  stats(): PoolStats {
    return this.#supply.counts();
  }

  /** The isolates of one deployment key (or every one), for status. */
  isolates(key?: string): PoolIsolate[] {
    return [...this.#s.isolates.values()].filter((i) =>
      key === undefined || i.deployment === key
    );
  }

  /**
   * How often isolates of a deployment key ended abnormally: CPU budget,
   * memory cap, uncaught error, worker process crash, a broken connection.
   */
  restarts(key: string): number {
    return this.#failures.restarts(key);
  }

  /**
   * How often isolates of `key` were evicted, and how many of its requests
   * (or load checks) waited for an isolate or got 503; every deployment's
   * summed without a key.
   */
  counters(key?: string): PoolCounters {
    if (key !== undefined) {
      const c = this.#counters.get(key);
      return c ? { ...c } : { evictions: 0, queued: 0, rejected: 0 };
    }
    const sum = { evictions: 0, queued: 0, rejected: 0 };
    for (const c of this.#counters.values()) {
      sum.evictions += c.evictions;
      sum.queued += c.queued;
      sum.rejected += c.rejected;
    }
    return sum;
  }

  /** Evictions by reason since the pool started. */
  evictions(): Record<EvictReason, number> {
    return { ...this.#evictions };
  }

  /** The worker processes (tests crash one on purpose). */
  processes(): WorkerProcess[] {
    return this.#s.procs.all();
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
   * pre-warm), placed like a request: a standby, an evicted idle isolate's
   * place, or a bounded wait. Throws the load error (a syntax error, no
   * handler), or PoolBusyError when every isolate stayed busy.
   */
  async warm(target: Target): Promise<void> {
    const iso = await this.#pick(target, null);
    try {
      await iso.ready;
    } finally {
      iso.end();
      if (iso.retired && iso.inflight === 0) stopIsolate(this.#s, iso);
      this.#s.notifier.wake();
    }
  }

  /** Stops the isolates of a deployment key (release replaced or removed). */
  retire(key: string): void {
    this.#quarantine.forget(key);
    for (const iso of this.#s.isolates.values()) {
      if (iso.deployment !== key) continue;
      // In-flight requests finish first; no new ones are picked.
      iso.retired = true;
      if (iso.inflight === 0) stopIsolate(this.#s, iso);
    }
    this.#supply.reconcile();
  }

  /**
   * An isolate for `target`, its in-flight count taken (begin()) in the
   * same tick as the choice. lib/isolates/placement.ts decides; this
   * carries it out. Waits at most `queueTimeoutMs`, then throws
   * PoolBusyError (503 with Retry-After).
   */
  async #pick(
    target: Target,
    instanceId: string | null,
    request = false,
  ): Promise<PoolIsolate> {
    const s = this.#s, supply = this.#supply;
    const take = (iso: PoolIsolate) => {
      iso.begin();
      return iso;
    };
    const started = Date.now();
    const deadline = started + this.options.queueTimeoutMs;
    let queued = false;
    let last: Placement | undefined;
    while (!s.stopped) {
      const d = last = place(this.#view(target.key, instanceId));
      if (d.kind === "take") return take(s.isolates.get(d.id)!);
      if (d.evict) this.#evict(d.evict, target.key);
      if (d.kind === "assign") {
        const standby = s.isolates.get(d.id)!;
        const iso = supply.assign(standby, target, instanceId);
        if (request) this.options.events?.coldStart?.(target.key, iso.ready);
        return take(iso);
      }
      if (d.kind === "boot-alone") {
        const iso = await supply.bootAlone(target, instanceId);
        if (iso) {
          if (request) this.options.events?.coldStart?.(target.key, iso.ready);
          return take(iso);
        }
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      if (!queued) {
        queued = true;
        this.#count(target.key).queued++;
      }
      const ms = d.until === undefined
        ? left
        : Math.max(1, Math.min(left, d.until - s.clock.now()));
      if (!d.boot) {
        await s.notifier.changed(ms);
        continue;
      }
      // A waiting request counts as demand for one more standby.
      supply.waiting++;
      try {
        supply.reconcile();
        await s.notifier.changed(ms);
      } finally {
        supply.waiting--;
      }
    }
    this.#count(target.key).rejected++;
    const why = s.stopped
      ? "the pool is stopping"
      : last?.kind === "wait" && !last.boot
      ? `every isolate (${this.stats().total} of max_workers ${this.options.maxWorkers}) has requests in flight`
      : "no isolate could be booted";
    this.options.log.warn(
      `no isolate for ${target.key} within ${Date.now() - started} ms: ${why}`,
    );
    throw new PoolBusyError(`no isolate for ${target.key}: ${why}`);
  }

  /** What placement reads: the isolates and the pool's limits now. */
  #view(key: string, instanceId: string | null): PlacementView {
    const o = this.options, supply = this.#supply;
    const isolates: PoolIsolate[] = [];
    for (const i of this.#s.isolates.values()) {
      // an isolate booting alone counts through aloneBooting
      if (i.state !== "stopping" && !(i.alone && i.deployment === null)) {
        isolates.push(i);
      }
    }
    return {
      key,
      instanceId,
      isolates,
      booting: supply.unregistered,
      aloneBooting: supply.aloneBooting.size,
      alone: this.#quarantine.has(key),
      aloneBootingThis: supply.aloneBooting.has(key),
      concurrency: o.concurrency,
      maxWorkers: o.maxWorkers,
      softCap: maxAssigned(o),
      hot: supply.hot(),
      bootsPaused: supply.paused(),
      now: this.#s.clock.now(),
      evictedAt: (d) => this.#evictedAt.get(d),
    };
  }

  /** Stops an idle isolate of another deployment to make room for one. */
  #evict(e: Eviction, forKey: string): void {
    const iso = this.#s.isolates.get(e.id);
    if (!iso || iso.deployment === null) return;
    const idle = Math.round((Date.now() - iso.lastActivity) / 100) / 10;
    this.options.log.info(
      `evicted ${iso.id} of ${iso.deployment} (idle ${idle}s) for ${forKey}: ${
        EVICT_WHY[e.why]
      }`,
    );
    this.#evictedAt.set(iso.deployment, this.#s.clock.now());
    this.#count(iso.deployment).evictions++;
    this.#evictions[e.why]++;
    // its replacement may boot even while the host is over its targets
    this.#supply.owedBoots++;
    stopIsolate(this.#s, iso);
  }

  /** The counters of one deployment key, created on first use. */
  #count(key: string): PoolCounters {
    let c = this.#counters.get(key);
    if (!c) {
      this.#counters.set(key, c = { evictions: 0, queued: 0, rejected: 0 });
    }
    return c;
  }

  #sweepIdle(): void {
    const now = Date.now();
    let stopped = false;
    for (const iso of this.#s.isolates.values()) {
      if (
        iso.state === "active" && iso.inflight === 0 &&
        now - iso.lastActivity >= (iso.idleMs ?? this.options.idleTimeoutMs)
      ) {
        this.options.log.debug(`${iso.id} of ${iso.deployment} idle: stopped`);
        stopIsolate(this.#s, iso);
        stopped = true;
      }
    }
    if (stopped) this.#supply.reconcile();
  }
}
