/**
 * @module
 * Active health checks of one pool, as `mypaas.healthcheck` says: GET the
 * path every interval with a timeout; 2xx and 3xx are healthy, anything else
 * (or no answer in time) takes the replica out until a check passes again.
 */
import type { HttpCheck } from "../spec/types.ts";
import type { Target, UpstreamPool } from "./upstream_pool.ts";

/** Runs one pool's checks until stopped. */
export class HealthChecker {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #check: HttpCheck | undefined;
  #running = false;
  #client: Deno.HttpClient | undefined;

  constructor(readonly pool: UpstreamPool) {}

  /** (Re)starts checks with `check`, or stops them when undefined. */
  configure(check: HttpCheck | undefined): void {
    const same = check && this.#check &&
      check.path === this.#check.path &&
      check.intervalMs === this.#check.intervalMs &&
      check.timeoutMs === this.#check.timeoutMs;
    if (same) return;
    this.stop();
    this.#check = check;
    if (!check) return;
    this.#client = Deno.createHttpClient({ poolMaxIdlePerHost: 1 });
    this.#schedule(check.intervalMs);
  }

  /** Stops checking; idempotent. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#check = undefined;
    this.#client?.close();
    this.#client = undefined;
  }

  /** Checks every non-draining target once, now. */
  async runOnce(): Promise<void> {
    const check = this.#check;
    const client = this.#client;
    if (!check || !client || this.#running) return;
    this.#running = true;
    try {
      const targets = this.pool.targets().filter((t) => t.state !== "draining");
      await Promise.all(targets.map(async (t) => {
        const ok = await probe(t, check, client);
        if (this.#check === check) this.pool.setHealthy(t, ok);
      }));
    } finally {
      this.#running = false;
    }
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(async () => {
      await this.runOnce();
      if (this.#check) this.#schedule(this.#check.intervalMs);
    }, ms);
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
