/**
 * @module
 * The counters the hot path bumps: per target (`service:NAME`,
 * `function:NAME`) requests by status code, a latency histogram, bytes in
 * and out, open requests and cold starts. A request costs a Map lookup, a
 * few additions and a bucket search over ~24 bounds; no allocation once the
 * target and its code were seen. The sampler (lib/metrics/sampler.ts) reads
 * the totals every step; Prometheus renders them as they are.
 */

/**
 * Upper bounds of the latency buckets in seconds: Prometheus' defaults with
 * steps between them, so that p50/p95/p99 read from them are close enough
 * for a dashboard (the error of a quantile is within its bucket's width).
 */
export const LATENCY_BOUNDS: readonly number[] = [
  0.001,
  0.0025,
  0.005,
  0.0075,
  0.01,
  0.015,
  0.025,
  0.035,
  0.05,
  0.075,
  0.1,
  0.15,
  0.25,
  0.35,
  0.5,
  0.75,
  1,
  1.5,
  2.5,
  5,
  7.5,
  10,
  30,
  60,
];

/** The totals of one target since the daemon started. */
export class TargetCounters {
  /** Requests by status code. */
  readonly codes = new Map<number, number>();
  /** Non-cumulative counts per LATENCY_BOUNDS bucket, the last is +Inf. */
  readonly buckets: Float64Array = new Float64Array(LATENCY_BOUNDS.length + 1);
  requests = 0;
  errors = 0;
  /** Sum of latencies in seconds. */
  latencySum = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** Requests whose answer head has not gone out yet. */
  open = 0;
  coldStarts = 0;

  constructor(readonly target: string) {}
}

/** The index of the bucket of `seconds` (binary search). */
export function bucketOf(seconds: number): number {
  let lo = 0, hi = LATENCY_BOUNDS.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (seconds <= LATENCY_BOUNDS[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The `q` quantile (0-1) of non-cumulative `buckets`, in seconds, by linear
 * interpolation inside its bucket (as Prometheus' histogram_quantile); NaN
 * when empty. The +Inf bucket answers its lower bound.
 */
export function quantile(buckets: ArrayLike<number>, q: number): number {
  let total = 0;
  for (let i = 0; i < buckets.length; i++) total += buckets[i]!;
  if (total === 0) return NaN;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const n = buckets[i]!;
    if (seen + n >= rank && n > 0) {
      const lower = i === 0 ? 0 : LATENCY_BOUNDS[i - 1]!;
      if (i >= LATENCY_BOUNDS.length) return lower;
      const upper = LATENCY_BOUNDS[i]!;
      return lower + (upper - lower) * ((rank - seen) / n);
    }
    seen += n;
  }
  return LATENCY_BOUNDS[LATENCY_BOUNDS.length - 1]!;
}

/** Every target's counters; what the proxy and the pool record into. */
export class MetricsRegistry {
  readonly #targets = new Map<string, TargetCounters>();

  /** The counters of `target`, created on first use. */
  of(target: string): TargetCounters {
    let c = this.#targets.get(target);
    if (!c) {
      c = new TargetCounters(target);
      this.#targets.set(target, c);
    }
    return c;
  }

  /** A request came in (its answer is open until `answered`). */
  opened(c: TargetCounters): void {
    c.open++;
  }

  /** The answer's head went out after `seconds`. */
  answered(
    c: TargetCounters,
    status: number,
    seconds: number,
    bytesIn: number,
    bytesOut: number,
  ): void {
    c.open--;
    c.requests++;
    if (status >= 500) c.errors++;
    c.codes.set(status, (c.codes.get(status) ?? 0) + 1);
    c.buckets[bucketOf(seconds)]!++;
    c.latencySum += seconds;
    c.bytesIn += bytesIn;
    c.bytesOut += bytesOut;
  }

  /** A request had to wait for its deployment to load into an isolate. */
  coldStart(target: string): void {
    this.of(target).coldStarts++;
  }

  /** Every target seen so far. */
  all(): TargetCounters[] {
    return [...this.#targets.values()];
  }
}
