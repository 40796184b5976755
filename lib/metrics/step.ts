/**
 * @module
 * One sampling step of one target (what happened in it) and the series
 * values it gives. Steps add up into a coarser one (10 s steps into 5 min):
 * counts and histograms are summed, gauges averaged over time, so a
 * coarse p95 is the p95 of all its requests, not a mean of p95s.
 */
import { LATENCY_BOUNDS, quantile } from "./registry.ts";
import type { MetricName } from "./types.ts";

/** What one target did in one step. */
export interface Step {
  /** Length of the step in seconds. */
  seconds: number;
  requests: number;
  errors: number;
  bytesIn: number;
  bytesOut: number;
  coldStarts: number;
  /** Latency bucket counts of the step's requests (LATENCY_BOUNDS + Inf). */
  buckets?: Float64Array;
  /** Gauges at the step's end; absent when the target has none. */
  open?: number;
  /** CPU time used in the step (containers, isolates, the host). */
  cpuSeconds?: number;
  memoryBytes?: number;
}

/** The order of the values in a stored slot (and in the files). */
export const METRICS: readonly MetricName[] = [
  "requests_per_s",
  "error_ratio",
  "p50_ms",
  "p95_ms",
  "p99_ms",
  "bytes_in_per_s",
  "bytes_out_per_s",
  "open_connections",
  "cold_starts",
  "cpu_cores",
  "memory_bytes",
];

/** An empty step of `seconds`. */
export function emptyStep(seconds = 0): Step {
  return {
    seconds,
    requests: 0,
    errors: 0,
    bytesIn: 0,
    bytesOut: 0,
    coldStarts: 0,
  };
}

/** Adds `s` into `into` (gauges weighted by time, to be divided later). */
export function addStep(into: Step, s: Step): void {
  const w = s.seconds;
  into.seconds += w;
  into.requests += s.requests;
  into.errors += s.errors;
  into.bytesIn += s.bytesIn;
  into.bytesOut += s.bytesOut;
  into.coldStarts += s.coldStarts;
  if (s.buckets) {
    into.buckets ??= new Float64Array(LATENCY_BOUNDS.length + 1);
    for (let i = 0; i < s.buckets.length; i++) {
      into.buckets[i]! += s.buckets[i]!;
    }
  }
  if (s.open !== undefined) into.open = (into.open ?? 0) + s.open * w;
  if (s.cpuSeconds !== undefined) {
    into.cpuSeconds = (into.cpuSeconds ?? 0) + s.cpuSeconds;
  }
  if (s.memoryBytes !== undefined) {
    into.memoryBytes = (into.memoryBytes ?? 0) + s.memoryBytes * w;
  }
}

/**
 * The series values of a step, in METRICS order; NaN where there is
 * nothing to say (a quantile without requests, CPU of a target without
 * samples). `summed` says gauges were added with addStep (time-weighted).
 */
export function valuesOf(s: Step, summed = false): number[] {
  const secs = s.seconds || 1;
  const q = (p: number) =>
    s.buckets && s.requests ? quantile(s.buckets, p) * 1000 : NaN;
  const gauge = (v: number | undefined) =>
    v === undefined ? NaN : summed ? v / secs : v;
  return [
    s.requests / secs,
    s.requests ? s.errors / s.requests : 0,
    q(0.5),
    q(0.95),
    q(0.99),
    s.bytesIn / secs,
    s.bytesOut / secs,
    gauge(s.open),
    s.coldStarts,
    s.cpuSeconds === undefined ? NaN : s.cpuSeconds / secs,
    gauge(s.memoryBytes),
  ];
}
