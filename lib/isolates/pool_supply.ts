/**
 * @module
 * The pool's supply of isolates: boots or stops standbys so the counts meet
 * the settings (`min_workers`, `free_pool_ratio`, `max_workers`, plus one
 * per waiting request), boots isolates of quarantined releases alone, loads
 * a deployment into a standby (a cold start), and holds boots back while
 * the host is over its CPU/memory target (only the `min_workers` floor and
 * the replacements of evicted isolates boot then) or while failed boots
 * back off (lib/backoff.ts: 100 ms doubling to 30 s; logged at most once a
 * minute with a count). The process a boot failed in takes no new isolate.
 */
import { Backoff, RepeatLog } from "../backoff.ts";
import { PoolIsolate } from "./pool_isolate.ts";
import { wantedFree } from "./pool_policy.ts";
import type { Quarantine } from "./pool_quarantine.ts";
import { type PoolState, stopIsolate } from "./pool_state.ts";
import type { PoolStats, Target } from "./pool_types.ts";
import type { WorkerProcess } from "./worker_process.ts";

let seq = 0;

/** A minute without a failed boot ends a streak (backoff and its log). */
const BOOT_QUIET_MS = 60_000;

/** Boots, loads and stops isolates to meet the pool's settings. */
export class PoolSupply {
  /** Boots under way. */
  booting = 0;
  /** Boots whose isolate is not in the pool's map yet (counted as free). */
  unregistered = 0;
  /** Requests waiting for a standby to boot (demand for that many). */
  waiting = 0;
  /**
   * Boots owed to evictions while the host is over its target: each
   * replaces the isolate evicted, it does not grow the pool, so the gate
   * lets it pass.
   */
  owedBoots = 0;
  /**
   * Keys whose isolate is booting in a process of its own: each counts as
   * one assigned isolate until that isolate is handed out.
   */
  readonly aloneBooting = new Set<string>();
  #hot = false;
  readonly #backoff = new Backoff({ baseMs: 100, maxMs: 30_000 });
  readonly #failures: RepeatLog;
  /** No boot before this time (clock ms): the last ones failed. */
  #retryAt = 0;
  #retryTimer: unknown = null;
  /** When the last boot failed (clock ms), for the quiet minute. */
  #lastFailure = -Infinity;
  /** Boots failed since the last one that worked. */
  #failing = false;

  constructor(readonly s: PoolState, readonly quarantine: Quarantine) {
    this.#failures = new RepeatLog((m) => s.options.log.error(m), {
      clock: s.clock,
    });
  }

  /** Stops the backoff's timer (the pool stopped). */
  stop(): void {
    this.s.clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }

  /** Counts of isolates (booting standbys count as free). */
  counts(): PoolStats {
    let free = 0, assigned = 0;
    for (const iso of this.s.isolates.values()) {
      if (iso.state === "stopping") continue;
      // an isolate booting alone is counted by aloneBooting below
      if (iso.deployment === null) {
        if (!iso.alone) free++;
      } else assigned++;
    }
    free += this.unregistered;
    assigned += this.aloneBooting.size;
    return {
      total: free + assigned,
      free,
      assigned,
      processes: this.s.procs.size,
    };
  }

  /**
   * The host-load gate: true while the host is over its CPU or memory
   * target (no new isolate starts); logs each change once.
   */
  hot(): boolean {
    const o = this.s.options;
    const load = o.hostLoad();
    const hot = load.cpu > o.cpuPctTarget || load.mem > o.memPctTarget;
    if (hot !== this.#hot) {
      this.#hot = hot;
      const what = `cpu ${load.cpu.toFixed(2)}, mem ${load.mem.toFixed(2)}`;
      if (hot) {
        o.log.warn(
          `host above its CPU/memory target (${what}): no new isolates, idle ones are evicted to make room`,
        );
      } else o.log.info(`host back under its CPU/memory target (${what})`);
    }
    return hot;
  }

  /** Boots or stops standbys so the counts meet the settings. */
  reconcile(): void {
    if (this.s.stopped) return;
    const o = this.s.options;
    const { free, assigned, total } = this.counts();
    const want = Math.max(
      wantedFree(o, assigned),
      Math.min(this.waiting, o.maxWorkers - assigned),
    );
    // While hot, only the min_workers floor and owed replacements boot.
    const cap = this.hot()
      ? Math.min(o.minWorkers, o.maxWorkers)
      : o.maxWorkers;
    // replacements matter only while hot; any boot pays one back
    if (cap === o.maxWorkers) this.owedBoots = 0;
    // After failed boots, none until the backoff's timer reconciles again.
    if (!this.paused()) {
      for (let i = 0, n = want - free; i < n; i++) {
        const owed = this.owedBoots > 0 && total + i < o.maxWorkers;
        if (total + i >= cap && !owed) break;
        this.owedBoots = Math.max(0, this.owedBoots - 1);
        void this.#boot();
      }
    }
    if (free > want) {
      const extra = [...this.s.isolates.values()]
        .filter((i) => i.state === "standby").slice(0, free - want);
      for (const iso of extra) stopIsolate(this.s, iso);
    }
  }

  /** Loads `target` into the standby `iso` (a cold start). */
  assign(
    iso: PoolIsolate,
    target: Target,
    instanceId: string | null,
  ): PoolIsolate {
    iso.assign(target, instanceId);
    iso.ready.catch((err) => {
      this.s.options.log.warn(
        `${target.key} failed to load in ${iso.id}: ${err.message}`,
      );
      stopIsolate(this.s, iso, iso.stopCause ?? "error");
    });
    this.reconcile();
    return iso;
  }

  /**
   * Boots an isolate for `target` in a new process of its own (see
   * Quarantine); undefined when that failed (logged).
   */
  async bootAlone(
    target: Target,
    instanceId: string | null,
  ): Promise<PoolIsolate | undefined> {
    const id = `iso-${++seq}`;
    const key = target.key;
    // still wanted: the pool runs and the release was not retired meanwhile
    const wanted = () => !this.s.stopped && this.quarantine.has(key);
    this.aloneBooting.add(key);
    let proc: WorkerProcess | undefined;
    let iso: PoolIsolate | undefined;
    try {
      proc = await this.s.procs.spawnAlone(id);
      if (!wanted()) return undefined;
      iso = new PoolIsolate(id, proc);
      iso.alone = true;
      // "booting": no other request takes it as a standby meanwhile
      this.s.isolates.set(id, iso);
      await proc.createIsolate(id);
      if (!wanted() || !iso.to("standby")) return undefined;
      this.#worked();
      const ready = this.assign(iso, target, instanceId);
      iso = undefined;
      return ready;
    } catch (err) {
      if (!this.s.stopped) {
        this.failed("boot", `isolate boot for ${key} alone`, err as Error);
      }
      return undefined;
    } finally {
      // not handed out: nothing else may use its process
      if (iso) stopIsolate(this.s, iso);
      else if (proc && !this.s.isolates.has(id)) {
        proc.isolates.delete(id);
        this.s.procs.dropIfEmpty(proc);
      }
      this.aloneBooting.delete(key);
      this.s.notifier.wake();
    }
  }

  async #boot(): Promise<void> {
    const id = `iso-${++seq}`;
    const started = performance.now();
    const booted = this.s.options.events?.booted;
    this.booting++;
    let proc: WorkerProcess | undefined;
    this.unregistered++;
    let registered = false;
    try {
      proc = await this.s.procs.withRoom(id);
      const iso = new PoolIsolate(id, proc);
      this.s.isolates.set(id, iso);
      this.unregistered--;
      registered = true;
      await proc.createIsolate(id);
      iso.to("standby");
      this.#worked();
      booted?.(id, performance.now() - started);
    } catch (err) {
      booted?.(id, performance.now() - started, (err as Error).message);
      this.s.isolates.delete(id);
      if (!this.s.stopped) this.failed("boot", "isolate boot", err as Error);
      // a process that failed a boot (its control socket gone, say) takes no
      // new isolate: the next boot spawns a fresh one
      if (proc) this.s.procs.drain(proc);
    } finally {
      if (!registered) this.unregistered--;
      this.booting--;
      this.s.notifier.wake();
    }
  }

  /** True while failed boots hold new ones back. */
  paused(): boolean {
    return this.s.clock.now() < this.#retryAt;
  }

  /**
   * Backs boots off, logs (throttled) and reconciles once the wait is over.
   * `cause` is a boot that failed, or a process that crashed hosting no
   * deployment. A streak of them ends after a quiet minute, not with the
   * next boot that works: a process that crashes after each good boot would
   * otherwise be replaced at full speed, logging every time.
   */
  failed(cause: "boot" | "crash", what: string, err: Error): void {
    const clock = this.s.clock;
    const now = clock.now();
    if (now - this.#lastFailure >= BOOT_QUIET_MS) {
      this.#backoff.reset();
      this.#failures.ok();
    }
    this.#lastFailure = now;
    if (cause === "boot") this.#failing = true;
    // boots that were under way together fail together: one backoff step
    if (now >= this.#retryAt) this.#retryAt = now + this.#backoff.fail();
    const wait = this.#retryAt - now;
    this.#failures.fail(
      `${what} failed: ${err.message}; next boot in ${
        Math.round(wait / 100) / 10
      }s`,
    );
    clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = clock.setTimeout(() => {
      this.#retryTimer = null;
      this.reconcile();
      this.s.notifier.wake();
    }, wait);
  }

  /** A boot worked: after failed boots, says so once. */
  #worked(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.s.options.log.info(
      `isolate boots work again after ${this.#failures.ok()} failures`,
    );
  }
}
