/**
 * @module
 * The `ContainerRuntime` port: everything mypaas asks of a container engine,
 * in our own types. `DockerRuntime` implements it over dockerode and
 * `FakeRuntime` in memory; one contract suite tests both.
 */

/** A bind mount (host path) or a named volume. */
export interface Mount {
  kind: "bind" | "volume";
  /** Absolute host path, or the volume's name. */
  source: string;
  target: string;
  readOnly?: boolean;
}

/** A published port: host -> container. */
export interface PortBinding {
  hostPort: number;
  containerPort: number;
  protocol: "tcp" | "udp";
}

/** Docker restart policies mypaas uses. */
export type RestartPolicy = "no" | "always" | "unless-stopped" | "on-failure";

/**
 * A json-file log rotated at `maxSize` bytes, `maxFiles` files kept (the
 * current one included), so one container's log never passes their product.
 */
export interface LogLimits {
  maxSize: number;
  maxFiles: number;
}

/** What a new container looks like. */
export interface ContainerCreate {
  name: string;
  image: string;
  env?: Record<string, string>;
  labels?: Record<string, string>;
  /** Network to join (created beforehand with `ensureNetwork`). */
  network?: string;
  mounts?: Mount[];
  publish?: PortBinding[];
  /** Command override; the image's CMD otherwise. */
  cmd?: string[];
  /** CPU limit in cores (Docker NanoCpus = cores x 1e9). */
  cpus?: number;
  /** Memory limit in bytes. */
  memory?: number;
  /** CPU reservation in cores (Docker CpuShares = cores x 1024). */
  cpuReservation?: number;
  /** Memory reservation (soft limit) in bytes. */
  memoryReservation?: number;
  restart?: RestartPolicy;
  /** Run a tiny init as PID 1 (signals reach the app, zombies are reaped). */
  init?: boolean;
  /** Bounded json-file log; without it the engine's default driver applies. */
  log?: LogLimits;
}

/** Container lifecycle states, as Docker names them. */
export type ContainerState =
  | "created"
  | "running"
  | "paused"
  | "restarting"
  | "removing"
  | "exited"
  | "dead";

/** One container, as `listContainers` returns it. */
export interface ContainerSummary {
  id: string;
  /** Name without the leading slash. */
  name: string;
  image: string;
  state: ContainerState;
  labels: Record<string, string>;
  /** Creation time, ms since the epoch. */
  created: number;
}

/** One container in detail. */
export interface ContainerDetails extends ContainerSummary {
  /** Image id (sha256:...). */
  imageId: string;
  running: boolean;
  exitCode: number;
  /** Restarts done by the engine's restart policy. */
  restartCount: number;
  env: Record<string, string>;
  /** IP address per network name. */
  ips: Record<string, string>;
  cpus: number;
  memory: number;
  cpuReservation: number;
  memoryReservation: number;
  mounts: Mount[];
  publish: PortBinding[];
  restart: RestartPolicy;
  /** ms since the epoch, 0 when never started. */
  startedAt: number;
  /** The log driver and its rotation; `null` limits mean unbounded. */
  log: { driver: string; limits: LogLimits | null };
}

/** One image tag. */
export interface ImageSummary {
  id: string;
  /** `repo:tag` references. */
  tags: string[];
  labels: Record<string, string>;
  created: number;
}

/** A container event (start, die, stop, destroy, ...). */
export interface RuntimeEvent {
  action: string;
  id: string;
  name: string;
  labels: Record<string, string>;
  time: number;
}

/** A one-shot resource sample. */
export interface ContainerStats {
  /** CPU use in percent of one core. */
  cpuPct: number;
  /** CPU time used since the container started, in seconds. */
  cpuSeconds: number;
  memory: number;
  memoryLimit: number;
}

/** One log line, demultiplexed. */
export interface LogLine {
  stream: "stdout" | "stderr";
  line: string;
}

/** An image build. */
export interface BuildOptions {
  /** Directory with the Dockerfile; sent as a tar stream. */
  dir: string;
  /** `repo:tag` to give the result. */
  tag: string;
  /** Dockerfile name relative to `dir` (default "Dockerfile"). */
  dockerfile?: string;
  labels?: Record<string, string>;
  /** Extra ignore patterns (mypaas.toml `ignore`). */
  ignore?: string[];
  /** Resource limits of the build's RUN containers. */
  limits?: BuildLimits;
  /** Aborting it stops the build (the engine cancels it). */
  signal?: AbortSignal;
}

/**
 * What the Engine API's `/build` takes for its RUN containers
 * (`cpushares`, `cpuperiod`, `cpuquota`, `memory`, `memswap`); the classic
 * builder applies them to each step's container cgroup.
 */
export interface BuildLimits {
  /** Relative CPU weight (a container's default is 1024). */
  cpuShares: number;
  /** CFS period in microseconds. */
  cpuPeriod: number;
  /** CFS quota in microseconds per period (cores x period). */
  cpuQuota: number;
  /** Memory limit in bytes (0: none). */
  memory: number;
  /** Memory + swap in bytes (equal to memory: no swap). */
  memswap: number;
  /**
   * The parent cgroup of the RUN containers (`cgroupparent`; absent:
   * Docker's own, `/docker`), see lib/services/build_cgroup.ts.
   */
  cgroupParent?: string;
}

/** Thrown when the engine reports a failed build; carries the last lines. */
export class BuildError extends Error {
  override name = "BuildError";
  constructor(message: string, readonly lastLines: string[]) {
    super(message);
  }
}

/** Thrown when the engine itself does not answer. */
export class RuntimeUnavailableError extends Error {
  override name = "RuntimeUnavailableError";
}

/** The container engine, as mypaas sees it. */
export interface ContainerRuntime {
  /** Resolves when the engine answers; throws RuntimeUnavailableError otherwise. */
  ping(): Promise<void>;
  /** The engine's cgroup driver (`cgroupfs`, `systemd`), if it says. */
  cgroupDriver?(): Promise<string>;
  /** Builds an image; each log line goes to `onLine`. Throws BuildError. */
  build(opts: BuildOptions, onLine: (line: string) => void): Promise<string>;
  /** Pulls `ref`; each progress line goes to `onLine`. */
  pull(ref: string, onLine: (line: string) => void): Promise<void>;
  /** Creates a container (not started); returns its id. */
  create(opts: ContainerCreate): Promise<string>;
  start(id: string): Promise<void>;
  /** Stops (SIGTERM, then SIGKILL after `timeoutS`). No error if stopped. */
  stop(id: string, opts?: { timeoutS?: number }): Promise<void>;
  restart(id: string, opts?: { timeoutS?: number }): Promise<void>;
  /** Sends a signal (default SIGKILL). */
  kill(id: string, signal?: string): Promise<void>;
  rename(id: string, name: string): Promise<void>;
  /** Removes; `force` kills a running one first. No error if gone. */
  remove(id: string, opts?: { force?: boolean }): Promise<void>;
  /** Details, or null when there is no such container. */
  inspect(idOrName: string): Promise<ContainerDetails | null>;
  /** Containers (running or not) whose labels match: a value, or `true` = present. */
  list(labels: Record<string, string | true>): Promise<ContainerSummary[]>;
  /**
   * Container events with matching labels until `signal` aborts; with
   * `sinceMs`, past events from that time (ms since the epoch) come first.
   */
  events(
    labels: Record<string, string | true>,
    signal: AbortSignal,
    opts?: { sinceMs?: number },
  ): AsyncIterable<RuntimeEvent>;
  stats(id: string): Promise<ContainerStats>;
  /** Log lines; with `follow`, until the container stops or `signal` aborts. */
  logs(
    id: string,
    opts: { follow?: boolean; tail?: number; signal?: AbortSignal },
  ): AsyncIterable<LogLine>;
  /** Image details, or null. */
  inspectImage(ref: string): Promise<ImageSummary | null>;
  /** Images whose reference matches `repo` (all tags). */
  listImages(repo: string): Promise<ImageSummary[]>;
  tagImage(ref: string, repo: string, tag: string): Promise<void>;
  /** Removes an image reference; no error if gone. */
  removeImage(ref: string, opts?: { force?: boolean }): Promise<void>;
  /** Creates a bridge network unless it exists. */
  ensureNetwork(name: string, labels?: Record<string, string>): Promise<void>;
  /** Removes a network; no error if gone. */
  removeNetwork(name: string): Promise<void>;
}
