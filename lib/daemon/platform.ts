/**
 * @module
 * What the daemon's two front doors (the local control socket and the signed
 * HTTPS API under /daemon) ask of it. One implementation dispatches to the
 * container side (lib/services) or the function side (lib/isolates) by the
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
   * How spec errors show the directory (default: its path). The push API
   * passes "." so a refusal says `Dockerfile:2: ...`, not the server's
   * temporary upload path.
   */
  displayDir?: string;
}

/** A deploy whose refusals known before building have been checked. */
export interface CheckedDeploy {
  /** The spec it deploys (absent from a Platform without `check`). */
  spec?: DeploySpec;
  /** Builds and rolls out (the checks run again under the service lock). */
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

/** `platform.check`, or a CheckedDeploy that only deploys when it has none. */
export async function checkDeploy(
  platform: Platform,
  dir: string,
  opts: DeployOptions,
): Promise<CheckedDeploy> {
  if (platform.check) return await platform.check(dir, opts);
  return {
    run: (progress) => platform.deploy(dir, opts, progress),
  };
}

/** The operations both front doors offer. Progress lines stream to `progress`. */
export interface Platform {
  /**
   * Reads the directory's spec and refuses (throws `InputError`, with its
   * HTTP status) what is known before building: a bad spec, URL, publish
   * or volume conflicts. Picks the side (service or function). Without it
   * the push API deploys directly and refusals arrive in the stream.
   */
  check?(dir: string, opts: DeployOptions): Promise<CheckedDeploy>;
  /** Deploys the directory (already unpacked on this host). */
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
