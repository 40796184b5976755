/**
 * @module
 * The isolate pool's public types: what it loads (Target), its settings,
 * its counts and its one error.
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { LoadSource } from "./host_load.ts";
import type { WorkerProcessOptions } from "./worker_process.ts";

/** A deployment release the pool can load: its key is `name@release`. */
export interface Target {
  key: string;
  /** file: URL of the artifact (bundle or entry source). */
  url: string;
  env: Record<string, string>;
  /**
   * True for a self-contained bundle: the worker process reads it and the
   * isolate imports it from memory after giving up every read permission,
   * so its top-level code reads no file. False (`--skip-optimize` sources,
   * whose relative imports need the disk): read is revoked after load.
   */
  inline?: boolean;
  /** Not inline: the one directory its isolate may read while loading. */
  readRoot?: string;
  /** This deployment's idle timeout (`mypaas.idle`), else the pool's. */
  idleMs?: number;
}

/** Pool settings; `[isolates]` of config.toml plus a few internals. */
export interface PoolOptions {
  minWorkers: number;
  maxWorkers: number;
  freePoolRatio: number;
  idleTimeoutMs: number;
  isolatesPerProcess: number;
  cpuPctTarget: number;
  memPctTarget: number;
  wallLimitMs: number;
  /** Concurrent requests per isolate before a deployment gets another. */
  concurrency: number;
  /** Longest a request waits for an isolate before 503 (`queue_timeout`). */
  queueTimeoutMs: number;
  process: WorkerProcessOptions;
  hostLoad: LoadSource;
  log: Logger;
  /** Console lines of isolates. */
  onLog?: (line: IsolateLog) => void;
  /** Time of the boot backoff (tests move it); the real clock by default. */
  clock?: Clock;
  /** Cold starts and boots, for metrics and traces. */
  events?: PoolEvents;
}

/** What the pool tells metrics and traces. */
export interface PoolEvents {
  /**
   * A request found no isolate with its deployment loaded: one is loading
   * it for that request (`loaded` settles when the load did).
   */
  coldStart?(key: string, loaded: Promise<void>): void;
  /** A standby isolate booted in `ms` (or failed with `error`). */
  booted?(id: string, ms: number, error?: string): void;
}

/**
 * The settings a config reload applies to a running pool; the other `[isolates]` keys need a restart
 * (see lib/config/schema.ts).
 */
export type PoolSettings = Pick<
  PoolOptions,
  | "freePoolRatio"
  | "idleTimeoutMs"
  | "cpuPctTarget"
  | "memPctTarget"
  | "wallLimitMs"
  | "queueTimeoutMs"
>;

/** One console line of an isolate. */
export interface IsolateLog {
  deployment: string;
  isolate: string;
  level: string;
  msg: string;
  time: number;
}

/** Counts for tests, benchmarks and status. */
export interface PoolStats {
  total: number;
  free: number;
  assigned: number;
  processes: number;
}

/** What the pool counts per deployment key (status, benchmarks). */
export interface PoolCounters {
  /** Its isolates stopped to make room for another deployment. */
  evictions: number;
  /** Its requests (and load checks) that waited for an isolate. */
  queued: number;
  /** ... and got none within `queueTimeoutMs` (503). */
  rejected: number;
}

/** No isolate could be had in time (HTTP 503). */
export class PoolBusyError extends Error {
  override name = "PoolBusyError";
}
