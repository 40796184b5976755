/**
 * @module
 * The resolved specs that `# mypaas.*` / `// mypaas.*` comments describe.
 * Durations are milliseconds, sizes bytes, CPUs fractional cores.
 */

/** A `mypaas.url` value, checked and split. */
export interface SpecUrl {
  /** As written, normalised (`https://example.com/api`). */
  url: string;
  scheme: "http" | "https";
  /** Lower-case host name, no port. */
  host: string;
  /** Path prefix: "/" or "/api" (no trailing slash). */
  path: string;
}

/** `/path interval timeout`, as healthcheck, liveness and readiness use it. */
export interface HttpCheck {
  path: string;
  intervalMs: number;
  timeoutMs: number;
}

/** `mypaas.volume=HOST:CONTAINER` (HOST is a path or a named volume). */
export interface VolumeSpec {
  /** Absolute host path (after `~` expansion) or a Docker volume name. */
  source: string;
  target: string;
  kind: "bind" | "volume";
}

/** `mypaas.publish=HOST:CONTAINER[/udp]`. */
export interface PublishSpec {
  hostPort: number;
  containerPort: number;
  protocol: "tcp" | "udp";
}

/** How a redeploy replaces containers. */
export type DeployStrategy = "recreate" | "rolling" | "safe";

/** What a Dockerfile's comments configure. */
export interface ServiceSpec {
  kind: "service";
  /** Sanitised service name (`[a-z0-9-]`). */
  service: string;
  /** Path of the Dockerfile the spec came from. */
  file: string;
  urls: SpecUrl[];
  volumes: VolumeSpec[];
  /** Resolved environment (bare keys taken from `[env]`). */
  env: Record<string, string>;
  /** Port the container listens on (default 80). */
  port: number;
  publish: PublishSpec[];
  /** `scale`: replicas and strategy; `scale` absent or 0 is recreate with one. */
  scale: { strategy: DeployStrategy; replicas: number };
  healthcheck?: HttpCheck;
  liveness?: HttpCheck;
  readiness?: HttpCheck;
  /** CPU limit in cores. */
  maxcpu?: number;
  /** Memory limit in bytes (at least 6 MiB). */
  maxmem?: number;
  /**
   * Reservations as written. The deploy sets the limits to twice these when
   * `maxcpu`/`maxmem` are absent; a request above a given limit is refused.
   */
  request?: { cpu?: number; mem?: number };
  /** Replica range and the use (percent, 1-100; 80 if left out) to scale at. */
  autoscale?: { min: number; max: number; cpuPct: number; memPct: number };
  /** Cookie pinning (`mypaas_sticky` unless named); combinable with `hash`. */
  sticky?: { cookie: string; maxAgeS?: number };
  /** Consistent hashing; header names are lower-cased. */
  hash?: { by: "header" | "cookie"; name: string } | { by: "ip" };
  /** Stop/pause after this long without a request; wake on the next one. */
  idleMs?: number;
  /**
   * `mypaas.logs`: a bigger log than `[docker] log_max_size/log_max_files`.
   * `line` is where it was written, for the deploy's check against
   * `[docker] log_max_total` (config the pure parser does not see).
   */
  logs?: LogsSpec;
}

/** `mypaas.logs=SIZE COUNT`: rotate at `maxSize` bytes, keep `maxFiles`. */
export interface LogsSpec {
  maxSize: number;
  maxFiles: number;
  line: number;
}

/** What a Deno entry file's comments and the push flags configure. */
export interface FunctionSpec {
  kind: "function";
  /** Sanitised deployment name. */
  service: string;
  /** Entry file, relative to the deployment directory. */
  entrypoint: string;
  urls: SpecUrl[];
  env: Record<string, string>;
  skipOptimize: boolean;
  idleMs?: number;
}

/** Either kind of deployment. */
export type DeploySpec = ServiceSpec | FunctionSpec;
