/**
 * @module
 * What the daemon's two front doors (the local control socket and the signed
 * HTTPS API under /daemon) ask of it. One implementation dispatches to the
 * container side (lib/deploy) or the function side (lib/isolates) by the
 * directory's spec kind or the deployment's name.
 */
import type { DeploySpec } from "../spec/types.ts";

/** Flags a push or `server deploy` may add to the directory's own spec. */
export interface DeployOptions {
  /** `--domain D` (repeatable): serve the function at https://D. */
  domains?: string[];
  /** `--entry-point F`. */
  entrypoint?: string;
  /** `--env K=V` or bare `K` (from [env]). */
  env?: string[];
  /** `--skip-optimize`: keep the sources as they are, no bundle. */
  skipOptimize?: boolean;
  /** Who asked (key fingerprint, or "local"), for the audit log. */
  actor?: string;
  /**
   * How spec errors name the directory: "." names files as in the upload
   * (`Dockerfile:2: ...`), never the server's temp path. Default: `dir`.
   */
  displayDir?: string;
}

/**
 * A deploy whose refusals known up front (spec errors, URL, publish and
 * volume conflicts, the admin domain) were checked: `check` throws them as
 * InputErrors before anything streams or builds, `run` carries it out (and
 * checks again under the service's lock, where a race may still refuse).
 */
export interface CheckedDeploy {
  service: string;
  kind: DeploySpec["kind"];
  run(progress: (line: string) => void): Promise<DeployResult>;
}

/** Reads a directory's spec (lib/spec's `readSpec` fits). */
export type ReadSpec = (
  dir: string,
  opts: DeployOptions,
) => Promise<DeploySpec>;

/** How a deploy ended. */
export interface DeployResult {
  ok: boolean;
  service: string;
  kind: DeploySpec["kind"];
  /** The release number now serving (the old one when `ok` is false). */
  release: number | null;
  /** Why it failed, one line. */
  error?: string;
}

/** One service or function, as `list` and `status` show it. */
export interface DeploymentStatus {
  service: string;
  kind: DeploySpec["kind"];
  release: number | null;
  urls: string[];
  /** e.g. "running", "deploying", "stopped", "idle". */
  state: string;
  /**
   * Containers or isolates with their own state and restart count; a
   * container also with its log rotation (`json-file:3x10m`).
   */
  instances: { id: string; state: string; restarts: number; log?: string }[];
  /** Releases kept for rollback, newest first. */
  releases: number[];
  /**
   * Functions: how often the isolate pool evicted this release's idle
   * isolates to make room for another, and how many of its requests
   * waited for an isolate (`queued`) or got 503 after `queue_timeout`.
   */
  pool?: { evictions: number; queued: number; rejected: number };
}

/** The operations both front doors offer. Progress lines stream to `progress`. */
export interface Platform {
  /** Reads and checks the directory's spec; throws InputError on a refusal. */
  check(dir: string, opts: DeployOptions): Promise<CheckedDeploy>;
  /** Deploys the directory (already unpacked on this host): check, then run. */
  deploy(
    dir: string,
    opts: DeployOptions,
    progress: (line: string) => void,
  ): Promise<DeployResult>;
  list(): Promise<DeploymentStatus[]>;
  remove(service: string, actor?: string): Promise<void>;
  restart(service: string, actor?: string): Promise<void>;
  rollback(
    service: string,
    release: number | undefined,
    progress: (line: string) => void,
    actor?: string,
  ): Promise<DeployResult>;
  /** Log lines of a service; with `follow`, runs until `signal` aborts. */
  logs(
    service: string,
    opts: { follow: boolean; tail?: number; signal?: AbortSignal },
  ): AsyncIterable<string>;
}
