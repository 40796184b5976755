/**
 * @module
 * Retrying without hammering, and saying so without flooding the log. Every
 * retry loop of the daemon (isolate boots, the Docker event stream, liveness
 * checks while the engine is down, certificate orders) waits
 * `backoffDelay()` after a failure: exponential from `baseMs`, capped at
 * `maxMs`, spread by jitter so that loops do not fall into step. A
 * `RepeatLog` writes the first failure at once, then at most one line per
 * interval with the count of the failures since the last line, and one line
 * when the thing works again.
 */
import { type Clock, realClock } from "./clock.ts";

/** Backoff settings (milliseconds). */
export interface BackoffOptions {
  /** Delay after the first failure. */
  baseMs: number;
  /** Longest delay. */
  maxMs: number;
  /** Random spread, as a fraction of the delay (0.1 = +-10%). */
  jitter?: number;
}

/**
 * The wait after `failures` consecutive failures (1 = the first):
 * base * 2^(failures-1), capped at max, spread by +-jitter.
 */
export function backoffDelay(
  failures: number,
  opts: BackoffOptions,
  random: () => number = Math.random,
): number {
  if (failures < 1) return 0;
  const raw = Math.min(
    opts.maxMs,
    opts.baseMs * 2 ** Math.min(failures - 1, 40),
  );
  const spread = raw * (opts.jitter ?? 0.1) * (random() * 2 - 1);
  return Math.max(0, Math.min(opts.maxMs, Math.round(raw + spread)));
}

/** Consecutive failures of one retry loop and the wait they call for. */
export class Backoff {
  #failures = 0;

  constructor(
    readonly opts: BackoffOptions,
    readonly random: () => number = Math.random,
  ) {}

  /** Failures since the last success. */
  get failures(): number {
    return this.#failures;
  }

  /** Counts a failure; returns the wait before the next try. */
  fail(): number {
    return backoffDelay(++this.#failures, this.opts, this.random);
  }

  /** A success: the next failure waits `baseMs` again. */
  reset(): void {
    this.#failures = 0;
  }
}

/** Default interval between two log lines of one repeated failure. */
export const REPEAT_LOG_INTERVAL = 60_000;

/** Logs a repeated failure at most once per interval, with a count. */
export class RepeatLog {
  readonly #write: (msg: string) => void;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  /** When the last line was written (null: no failure since a success). */
  #lastAt: number | null = null;
  /** Failures since the last line written. */
  #held = 0;
  /** Failures since the last success. */
  #total = 0;

  constructor(
    write: (msg: string) => void,
    opts: { intervalMs?: number; clock?: Clock } = {},
  ) {
    this.#write = write;
    this.#intervalMs = opts.intervalMs ?? REPEAT_LOG_INTERVAL;
    this.#clock = opts.clock ?? realClock;
  }

  /** Failures since the last success. */
  get failures(): number {
    return this.#total;
  }

  /**
   * A failure: the first one is written at once; a later one only when the
   * interval has passed since the last line, which then says how many
   * failures there were since that line.
   */
  fail(msg: string): void {
    const now = this.#clock.now();
    this.#total++;
    this.#held++;
    if (this.#lastAt !== null && now - this.#lastAt < this.#intervalMs) return;
    const count = this.#lastAt === null
      ? ""
      : ` (${this.#held} failures in ${
        Math.round((now - this.#lastAt) / 1000)
      }s, ${this.#total} in a row)`;
    this.#write(`${msg}${count}`);
    this.#lastAt = now;
    this.#held = 0;
  }

  /**
   * A success: returns how many failures it ends (0 when there were none),
   * for the caller's one "works again" line; the next failure is written at
   * once.
   */
  ok(): number {
    const total = this.#total;
    this.#lastAt = null;
    this.#held = 0;
    this.#total = 0;
    return total;
  }
}
