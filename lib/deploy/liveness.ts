/**
 * @module
 * `LivenessMonitor`: probes every running container whose spec has
 * `mypaas.liveness`, at the check's interval; after `failures` misses in a
 * row the container is restarted (and put back into traffic once ready).
 * Restarts are counted per container for `list`.
 */
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
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = true;
  #ctl = new AbortController();
  #tick: Promise<void> | undefined;
  #replicas: Replica[] | null = null;
  #listedAt = 0;

  constructor(
    readonly ctx: DeployContext,
    readonly restarts: Map<string, number>,
    readonly locks: ServiceLocks,
    readonly opts: { failures?: number; tickMs?: number } = {},
  ) {}

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
    clearTimeout(this.#timer);
    await this.#tick;
  }

  #schedule() {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#tick = this.check().catch((err) =>
        this.ctx.log.warn(`liveness: ${(err as Error).message}`)
      ).finally(() => this.#schedule());
    }, this.opts.tickMs ?? 100);
  }

  /** One pass over the containers (public for tests). */
  async check(now = Date.now()): Promise<void> {
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
        t.next = Date.now() + spec.liveness.intervalMs;
        this.#replicas = null;
        if (ready.ok) await addTraffic(ctx, spec, r);
      }),
    );
    for (const id of this.#tracked.keys()) {
      if (!seen.has(id)) this.#tracked.delete(id);
    }
  }
}
