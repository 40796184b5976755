/**
 * @module
 * `ContainerEvents`: follows the engine's events for this daemon's
 * containers, so that traffic tracks what happens outside a deploy. A
 * container that dies (crash, OOM kill, `docker stop`) leaves the proxy at
 * once; one that starts again (the restart policy, a Docker restart, a manual
 * `docker start`) returns once ready, with its possibly new address.
 * Services under a deploy are left to it. The stream is re-opened after
 * errors (Docker restarting, or down) with backoff (lib/backoff.ts: 1 s
 * doubling to 30 s, reset by an event), logged at most once a minute with a
 * count.
 */
import { Backoff, type BackoffOptions, RepeatLog } from "../backoff.ts";
import { type Clock, realClock, sleep } from "../clock.ts";
import type { RuntimeEvent } from "../docker/mod.ts";
import {
  addTraffic,
  type DeployContext,
  type Replica,
  waitReplicaReady,
} from "./context.ts";
import { LABEL, releaseFromLabels, specFromLabels } from "./labels.ts";
import type { ServiceLocks } from "./service_locks.ts";

/** Keeps traffic in step with container deaths and restarts. */
export class ContainerEvents {
  readonly name = "container-events";
  #ctl: AbortController | null = null;
  #loop: Promise<void> | null = null;
  readonly #pending = new Set<Promise<void>>();

  constructor(
    readonly ctx: DeployContext,
    readonly locks: ServiceLocks,
    readonly opts: { retry?: BackoffOptions; clock?: Clock } = {},
  ) {}

  start(): Promise<void> {
    if (this.#ctl) return Promise.resolve();
    const ctl = this.#ctl = new AbortController();
    this.#loop = this.#run(ctl.signal);
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.#ctl?.abort();
    this.#ctl = null;
    await this.#loop;
    await Promise.all([...this.#pending]);
  }

  async #run(signal: AbortSignal): Promise<void> {
    const clock = this.opts.clock ?? realClock;
    const backoff = new Backoff(
      this.opts.retry ?? { baseMs: 1000, maxMs: 30_000 },
    );
    const failures = new RepeatLog((m) => this.ctx.log.warn(m), { clock });
    // after a broken stream, replay from the last event seen (handlers are
    // idempotent, so a repeated event does no harm)
    let since: number | undefined;
    while (!signal.aborted) {
      try {
        const events = this.ctx.runtime.events(
          { [LABEL.owner]: this.ctx.owner },
          signal,
          since === undefined ? {} : { sinceMs: since },
        );
        since ??= clock.now();
        for await (const e of events) {
          since = Math.max(since, e.time);
          backoff.reset();
          const failed = failures.ok();
          if (failed) {
            this.ctx.log.info(
              `container events: following again after ${failed} failures`,
            );
          }
          this.#track(this.#handle(e, signal));
        }
      } catch (err) {
        if (signal.aborted) break;
        const wait = backoff.fail();
        failures.fail(
          `container events: ${(err as Error).message}; next try in ${
            Math.round(wait / 100) / 10
          }s`,
        );
        await sleep(wait, { clock, signal });
        continue;
      }
      // the stream ended without an error (the engine closed it): reopen
      if (!signal.aborted) await sleep(backoff.fail(), { clock, signal });
    }
  }

  #track(p: Promise<void>) {
    this.#pending.add(p);
    p.finally(() => this.#pending.delete(p));
  }

  async #handle(e: RuntimeEvent, signal: AbortSignal): Promise<void> {
    const service = e.labels[LABEL.service];
    if (!service || this.locks.busy(service)) return;
    try {
      if (e.action === "die") {
        await this.ctx.traffic.drainUpstream(service, e.id, 0);
      } else if (e.action === "start") {
        const labels = e.labels[LABEL.spec]
          ? e.labels
          : (await this.ctx.runtime.inspect(e.id))?.labels ?? {};
        const spec = specFromLabels(labels);
        if (!spec || signal.aborted) return;
        const ready = await waitReplicaReady(
          this.ctx,
          spec,
          e.id,
          this.ctx.readyTimeoutMs,
          signal,
        );
        if (!ready.ok || signal.aborted || this.locks.busy(service)) return;
        const r: Replica = {
          id: e.id,
          name: e.name,
          release: releaseFromLabels(labels) ?? 0,
          index: Number(labels[LABEL.index] ?? 0),
          running: true,
          labels,
        };
        await addTraffic(this.ctx, spec, r);
      }
    } catch (err) {
      this.ctx.log.warn(
        `container events: ${e.action} of ${e.name}: ${(err as Error).message}`,
      );
    }
  }
}
