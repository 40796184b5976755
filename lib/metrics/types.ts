/**
 * The seam between the metrics store (lib/metrics, issue 15: recorded by the
 * proxy, the pool and Docker's stats, kept on disk) and what reads its
 * history (the dashboard, `server list`, `status`).
 */

/** One point of a series: [unix time in ms, value]. */
export type Point = [number, number];

/** The per-target series the store keeps. */
export type MetricName =
  | "requests_per_s"
  | "error_ratio"
  | "p50_ms"
  | "p95_ms"
  | "p99_ms"
  | "bytes_in_per_s"
  | "bytes_out_per_s"
  | "open_connections"
  | "cold_starts"
  | "cpu_cores"
  | "memory_bytes";

/** A target is `service:NAME`, `function:NAME` or `host`. */
export type Target = string;

export interface MetricsHistory {
  /** Targets with any recorded history. */
  targets(): Target[];
  /** Points of one metric of one target in [fromMs, toMs], at the coarsest
   * resolution that still gives at least ~100 points for that range. */
  range(
    target: Target,
    metric: MetricName,
    fromMs: number,
    toMs: number,
  ): Point[];
  /** The newest value of each metric of one target (the last full step). */
  latest(target: Target): Partial<Record<MetricName, number>>;
}
