/**
 * @module
 * Every step (10 s) turns the registry's totals, the containers' Docker
 * stats and the host's /proc into one Step per target and records it in
 * the store. The hot path never waits on it: it reads counters the proxy
 * bumps, and the Docker calls run here, off any request. The newest
 * container and host samples are kept for Prometheus.
 */
import { type Clock, realClock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { silentLogger } from "../log.ts";
import { LATENCY_BOUNDS, type MetricsRegistry } from "./registry.ts";
import type { Step } from "./step.ts";
import { emptyStep } from "./step.ts";
import type { MetricsStore } from "./store.ts";

/** One container as its stats were read. */
export interface ContainerSample {
  service: string;
  id: string;
  name: string;
  /** CPU seconds since it started. */
  cpuSeconds: number;
  memoryBytes: number;
  restarts: number;
}

/** The host as /proc and the data dir's file system say. */
export interface HostSample {
  /** CPU seconds all cores spent busy since boot. */
  cpuSeconds: number;
  memoryBytes: number;
  memoryTotalBytes: number;
  diskFreeBytes: number;
  diskTotalBytes: number;
}

/** What the sampler reads besides the registry. */
export interface SampleSources {
  containers?: () => Promise<ContainerSample[]>;
  host?: () => Promise<HostSample | undefined>;
}

/** Options of a sampler. */
export interface SamplerOptions extends SampleSources {
  registry: MetricsRegistry;
  store: MetricsStore;
  clock?: Clock;
  log?: Logger;
}

interface Last {
  requests: number;
  errors: number;
  bytesIn: number;
  bytesOut: number;
  coldStarts: number;
  buckets: Float64Array;
}

/** The daemon part that samples every step. */
export class MetricsSampler {
  readonly name = "metrics";
  readonly #o: SamplerOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #last = new Map<string, Last>();
  /** CPU seconds per container id at the last step. */
  #lastCpu = new Map<string, number>();
  #lastHostCpu: number | undefined;
  #timer: unknown;
  #stopped = true;
  #running: Promise<void> | undefined;
  #prevAt = 0;
  /** The newest samples (Prometheus). */
  containers: ContainerSample[] = [];
  host: HostSample | undefined;

  constructor(opts: SamplerOptions) {
    this.#o = opts;
    this.#clock = opts.clock ?? realClock;
    this.#log = opts.log ?? silentLogger;
    this.#prevAt = this.#clock.now();
  }

  start(): Promise<void> {
    this.#o.store.open();
    this.#stopped = false;
    this.#prevAt = this.#clock.now();
    this.#schedule();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#clock.clearTimeout(this.#timer);
    await this.#running;
    this.#o.store.close();
  }

  /** Takes one step now (the timer calls it; tests may too). */
  async sample(): Promise<void> {
    const end = this.#clock.now();
    const seconds = Math.max(0.001, (end - this.#prevAt) / 1000);
    this.#prevAt = end;
    const steps = new Map<string, Step>();
    for (const c of this.#o.registry.all()) {
      steps.set(c.target, this.#delta(c.target, c, seconds));
    }
    await this.#addContainers(steps, seconds);
    await this.#addHost(steps, seconds);
    for (const [target, step] of steps) {
      this.#o.store.record(target, end, step);
    }
  }

  #delta(
    target: string,
    c: ReturnType<MetricsRegistry["of"]>,
    seconds: number,
  ): Step {
    const last = this.#last.get(target) ?? {
      requests: 0,
      errors: 0,
      bytesIn: 0,
      bytesOut: 0,
      coldStarts: 0,
      buckets: new Float64Array(LATENCY_BOUNDS.length + 1),
    };
    const buckets = new Float64Array(c.buckets.length);
    for (let i = 0; i < buckets.length; i++) {
      buckets[i] = c.buckets[i]! - last.buckets[i]!;
    }
    const step: Step = {
      seconds,
      requests: c.requests - last.requests,
      errors: c.errors - last.errors,
      bytesIn: c.bytesIn - last.bytesIn,
      bytesOut: c.bytesOut - last.bytesOut,
      coldStarts: c.coldStarts - last.coldStarts,
      buckets,
      open: c.open,
    };
    this.#last.set(target, {
      requests: c.requests,
      errors: c.errors,
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
      coldStarts: c.coldStarts,
      buckets: c.buckets.slice(),
    });
    return step;
  }

  async #addContainers(steps: Map<string, Step>, seconds: number) {
    if (!this.#o.containers) return;
    let list: ContainerSample[];
    try {
      list = await this.#o.containers();
    } catch (err) {
      this.#log.warn(`container stats failed: ${(err as Error).message}`);
      return;
    }
    this.containers = list;
    const cpu = new Map<string, number>();
    for (const c of list) {
      const target = `service:${c.service}`;
      let step = steps.get(target);
      if (!step) steps.set(target, step = emptyStep(seconds));
      const before = this.#lastCpu.get(c.id);
      // a new container's first sample gives no rate yet
      const used = before === undefined
        ? 0
        : Math.max(0, c.cpuSeconds - before);
      step.cpuSeconds = (step.cpuSeconds ?? 0) + used;
      step.memoryBytes = (step.memoryBytes ?? 0) + c.memoryBytes;
      cpu.set(c.id, c.cpuSeconds);
    }
    this.#lastCpu = cpu;
  }

  async #addHost(steps: Map<string, Step>, seconds: number) {
    if (!this.#o.host) return;
    let h: HostSample | undefined;
    try {
      h = await this.#o.host();
    } catch (err) {
      this.#log.warn(`host stats failed: ${(err as Error).message}`);
      return;
    }
    if (!h) return;
    this.host = h;
    const step = emptyStep(seconds);
    const before = this.#lastHostCpu;
    this.#lastHostCpu = h.cpuSeconds;
    if (before !== undefined) step.cpuSeconds = h.cpuSeconds - before;
    step.memoryBytes = h.memoryBytes;
    steps.set("host", step);
  }

  #schedule(): void {
    if (this.#stopped) return;
    const stepMs = this.#o.store.stepMs;
    const now = this.#clock.now();
    const next = Math.floor(now / stepMs) * stepMs + stepMs;
    this.#timer = this.#clock.setTimeout(() => {
      this.#running = this.sample().catch((err) => {
        this.#log.error(`metrics step failed: ${(err as Error).message}`);
      }).finally(() => {
        this.#running = undefined;
        this.#schedule();
      });
    }, next - now);
  }
}
