/**
 * @module
 * Active health checks of one pool. Each target is checked with its own
 * release's `mypaas.healthcheck` (`Target.check`): GET the path every
 * interval with a timeout; 2xx and 3xx are healthy, anything else (or no
 * answer in time) takes the replica out until a check passes again. A deploy
 * that brings a new check therefore judges only the replicas it starts; the
 * old ones keep their old check until they are drained.
 */
import { type Clock, realClock } from "../clock.ts";
import type { HttpCheck } from "../spec/types.ts";
import type { Target, UpstreamPool } from "./upstream_pool.ts";

/** The check loop of one target. */
interface Loop {
  timer: unknown;
  running: boolean;
}

/** Runs the checks of one pool's targets until stopped. */
export class HealthChecker {
  readonly #loops = new Map<Target, Loop>();
  readonly #clock: Clock;
  #client: Deno.HttpClient | undefined;
  #stopped = false;

  constructor(readonly pool: UpstreamPool, opts: { clock?: Clock } = {}) {
    this.#clock = opts.clock ?? realClock;
  }

  /**
   * Starts checking every target that carries a check and is not checked
   * yet, and forgets targets that left the pool, drain or lost their check.
   * Call after the pool's targets changed.
   */
  sync(): void {
    if (this.#stopped) return;
    for (const t of this.pool.targets()) {
      if (this.#loops.has(t) || !this.#checked(t)) continue;
      const loop: Loop = { timer: undefined, running: false };
      this.#loops.set(t, loop);
      this.#schedule(t, loop);
    }
    for (const [t, loop] of this.#loops) {
      if (!this.#checked(t)) this.#forget(t, loop);
    }
  }

  /** Stops every check; idempotent. */
  stop(): void {
    this.#stopped = true;
    for (const [t, loop] of this.#loops) this.#forget(t, loop);
    this.#client?.close();
    this.#client = undefined;
  }

  /** Checks every non-draining target that carries a check once, now. */
  async runOnce(): Promise<void> {
    const targets = this.pool.targets().filter((t) => this.#checked(t));
    await Promise.all(targets.map((t) => this.#checkOne(t)));
  }

  #checked(t: Target): boolean {
    return t.check !== undefined && t.state !== "draining" &&
      this.pool.targets().includes(t);
  }

  #forget(t: Target, loop: Loop): void {
    this.#clock.clearTimeout(loop.timer);
    this.#loops.delete(t);
  }

  #schedule(t: Target, loop: Loop): void {
    const check = t.check;
    if (!check) return;
    loop.timer = this.#clock.setTimeout(async () => {
      if (this.#loops.get(t) !== loop) return;
      await this.#checkOne(t);
      if (this.#loops.get(t) !== loop) return;
      if (this.#checked(t)) this.#schedule(t, loop);
      else this.#forget(t, loop);
    }, check.intervalMs);
  }

  async #checkOne(t: Target): Promise<void> {
    const check = t.check;
    if (!check || this.#stopped) return;
    const loop = this.#loops.get(t);
    if (loop?.running) return;
    if (loop) loop.running = true;
    try {
      this.#client ??= Deno.createHttpClient({ poolMaxIdlePerHost: 1 });
      const ok = await probe(t, check, this.#client);
      // a result only counts for the check that was asked
      if (t.check === check && !this.#stopped) this.pool.setHealthy(t, ok);
    } finally {
      if (loop) loop.running = false;
    }
  }
}

async function probe(
  t: Target,
  check: HttpCheck,
  client: Deno.HttpClient,
): Promise<boolean> {
  try {
    const res = await fetch(t.url + check.path, {
      client,
      redirect: "manual",
      signal: AbortSignal.timeout(check.timeoutMs),
    });
    await res.body?.cancel();
    return res.status >= 200 && res.status < 400;
  } catch {
    return false;
  }
}
