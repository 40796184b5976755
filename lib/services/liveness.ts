/**
 * @module
 * `LivenessMonitor`: probes every running container whose spec has
 * `mypaas.liveness`, at the check's interval; after `failures` misses in a
 * row the container is restarted (and put back into traffic once ready).
 * Restarts are counted per container for `list`. A pass that fails (the
 * engine is down) backs off (lib/backoff.ts) and is logged at most once a
 * minute with a count, not on every 100 ms tick.
 */
import { Backoff, type BackoffOptions, RepeatLog } from "../backoff.ts";
import { type Clock, realClock } from "../clock.ts";
import {
  addTraffic,
  type DeployContext,
  type Replica,
  replicaUrl,
  serviceReplicas,
  waitReplicaReady,
} from "./context.ts";
import { LABEL, specFromLabels } from "./labels.ts";
import type { ServiceLocks } from "./service_locks.ts";

interface Tracked {
  fails: number;
  next: number;
}

/** Restarts containers that fail their liveness check repeatedly. */
export class LivenessMonitor {
  readonly name = "liveness";
  readonly #tracked = new Map<string, Tracked>();
  #timer: unknown;
  #stopped = true;
  #ctl = new AbortController();
  #tick: Promise<void> | undefined;
  #replicas: Replica[] | null = null;
  #listedAt = 0;
  readonly #clock: Clock;
  readonly #backoff: Backoff;
  readonly #failures: RepeatLog;

  constructor(
    readonly ctx: DeployContext,
    readonly restarts: Map<string, number>,
    readonly locks: ServiceLocks,
    readonly opts: {
      failures?: number;
      tickMs?: number;
      /** Waits after failed passes (default 200 ms doubling to 30 s). */
      retry?: BackoffOptions;
      clock?: Clock;
    } = {},
  ) {
    this.#clock = opts.clock ?? realClock;
    this.#backoff = new Backoff(opts.retry ?? { baseMs: 200, maxMs: 30_000 });
    this.#failures = new RepeatLog((m) => ctx.log.warn(m), {
      clock: this.#clock,
    });
  }

  start(): Promise<void> {
    if (!this.#stopped) return Promise.resolve();
    this.#stopped = false;
    this.#ctl = new AbortController();
    this.#schedule();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#ctl.abort();
    this.#clock.clearTimeout(this.#timer);
    await this.#tick;
  }

  #schedule(ms = this.opts.tickMs ?? 100) {
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#tick = this.#pass().then((next) => this.#schedule(next));
    }, ms);
  }

  /** One pass; the wait before the next (longer after failures). */
  async #pass(): Promise<number | undefined> {
    try {
      await this.check();
    } catch (err) {
      const wait = this.#backoff.fail();
      this.#failures.fail(
        `liveness checks failed: ${(err as Error).message}; next try in ${
          Math.round(wait / 100) / 10
        }s`,
      );
      return wait;
    }
    this.#backoff.reset();
    const failed = this.#failures.ok();
    if (failed) {
      this.ctx.log.info(`liveness checks work again after ${failed} failures`);
    }
    return undefined;
  }

  /** One pass over the containers (public for tests). */
  async check(now = this.#clock.now()): Promise<void> {
    const { ctx } = this;
    const seen = new Set<string>();
    const threshold = this.opts.failures ?? 3;
    // the container list is refreshed every 2 s, not on every tick
    if (
      !this.#replicas || now - this.#listedAt >= 2000 || now < this.#listedAt
    ) {
      this.#replicas = await serviceReplicas(ctx);
      this.#listedAt = now;
    }
    await Promise.all(
      this.#replicas.map(async (r) => {
        const spec = specFromLabels(r.labels);
        const service = r.labels[LABEL.service] ?? "";
        if (!r.running || !spec?.liveness || this.locks.busy(service)) return;
        seen.add(r.id);
        let t = this.#tracked.get(r.id);
        if (!t) this.#tracked.set(r.id, t = { fails: 0, next: now });
        if (now < t.next) return;
        t.next = now + spec.liveness.intervalMs;
        const target = await replicaUrl(ctx, spec, r.id);
        if (target && await ctx.probe(target, spec.liveness)) {
          t.fails = 0;
          return;
        }
        if (++t.fails < threshold) return;
        ctx.log.warn(
          `${r.name} failed its liveness check ${t.fails} times in a row: restarting it`,
        );
        t.fails = 0;
        this.restarts.set(r.id, (this.restarts.get(r.id) ?? 0) + 1);
        await ctx.traffic.drainUpstream(service, r.id, 0);
        await ctx.runtime.restart(r.id, { timeoutS: 5 });
        const ready = await waitReplicaReady(
          ctx,
          spec,
          r.id,
          ctx.readyTimeoutMs,
          this.#ctl.signal,
        );
        t.next = this.#clock.now() + spec.liveness.intervalMs;
        this.#replicas = null;
        if (ready.ok) await addTraffic(ctx, spec, r);
      }),
    );
    for (const id of this.#tracked.keys()) {
      if (!seen.has(id)) this.#tracked.delete(id);
    }
  }
}
