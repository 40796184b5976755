/**
 * @module
 * The telemetry daemon part: with `[telemetry] otlp_endpoint` set it loads
 * the OpenTelemetry exporter (a dynamic import: an empty endpoint loads no
 * SDK) and hands the proxy its tracer; it turns deploy phases into spans,
 * isolate boots and cold loads into spans, and function console lines,
 * container output and the daemon's warnings into log records. Without an
 * endpoint every hook here is a no-op.
 */
import type { ResolvedConfig } from "../config/config.ts";
import type { Logger } from "../log.ts";
import type { LogRecordIn, OpSpan, RequestTracer, Telemetry } from "./types.ts";

/** Deploy phases as the issue names them in spans. */
const PHASE: Record<string, string> = {
  queued: "queue",
  building: "build",
  starting: "start",
  "waiting-healthy": "health",
  switching: "switch",
  draining: "drain",
  restoring: "rollback",
  "rolled-back": "rollback",
};

/** Options of the part. */
export interface TelemetryPartOptions {
  /** Where the proxy reads its tracer from (set at start). */
  observe: { tracer?: RequestTracer };
  log: Logger;
  /** Builds the exporter (tests pass one; default: lib/telemetry/otel.ts). */
  create?: (
    cfg: ResolvedConfig["telemetry"],
    warn: (m: string) => void,
  ) => Promise<Telemetry>;
}

/** The daemon part. */
export class TelemetryPart {
  readonly name = "telemetry";
  #t: Telemetry | undefined;
  readonly #deploys = new Map<
    string,
    { root: OpSpan; phase?: OpSpan; last?: string }
  >();

  constructor(
    readonly config: ResolvedConfig,
    readonly opts: TelemetryPartOptions,
  ) {}

  /** The exporter, once started with an endpoint. */
  get telemetry(): Telemetry | undefined {
    return this.#t;
  }

  async start(): Promise<void> {
    const cfg = this.config.telemetry;
    if (!cfg.otlpEndpoint) return;
    const warn = (m: string) => this.opts.log.warn(m);
    const create = this.opts.create ?? (async (c, w) => {
      const { createOtel } = await import("./otel.ts");
      return createOtel(c, { warn: w });
    });
    this.#t = await create(cfg, warn);
    this.opts.observe.tracer = this.#t;
    this.opts.log.info(
      `exporting traces and logs to ${cfg.otlpEndpoint} (sample_ratio ${cfg.sampleRatio})`,
    );
  }

  async stop(): Promise<void> {
    const t = this.#t;
    this.#t = undefined;
    delete this.opts.observe.tracer;
    for (const service of [...this.#deploys.keys()]) {
      this.phase(service, undefined);
    }
    await t?.shutdown();
  }

  /** A deploy of `service` entered `phase` (undefined: it is over). */
  phase(service: string, phase: string | undefined): void {
    const t = this.#t;
    if (!t) return;
    let d = this.#deploys.get(service);
    if (phase === undefined) {
      if (!d) return;
      d.phase?.end();
      d.root.end(d.last === "rolled-back" ? "rolled back" : undefined);
      this.#deploys.delete(service);
      return;
    }
    if (!d) {
      d = { root: t.op("deploy", { "mypaas.service": service }) };
      this.#deploys.set(service, d);
    }
    d.last = phase;
    d.phase?.end();
    delete d.phase;
    if (phase === "done") return;
    d.phase = d.root.child(`deploy.${PHASE[phase] ?? phase}`, {
      "mypaas.service": service,
      "mypaas.phase": phase,
    });
  }

  /** A standby isolate booted (or failed to). */
  booted(id: string, ms: number, error?: string): void {
    const t = this.#t;
    if (!t) return;
    const span = t.op("isolate.boot", {
      "mypaas.isolate": id,
      "mypaas.boot_ms": ms,
    });
    span.end(error);
  }

  /** A request waits for its function to load into an isolate. */
  coldStart(key: string, loaded: Promise<void>): void {
    const t = this.#t;
    if (!t) return;
    const [name, release] = key.split("@");
    const span = t.op("isolate.load", {
      "mypaas.function": name ?? key,
      "mypaas.release": release ?? "",
    });
    loaded.then(() => span.end(), (err) => span.end((err as Error).message));
  }

  /** Exports one log record (a no-op without an endpoint). */
  log(record: LogRecordIn): void {
    this.#t?.log(record);
  }

  /**
   * A logger sink line (`ISO LEVEL scope: msg`) of the daemon's own: its
   * warnings and errors become log records.
   */
  daemonLine(line: string): void {
    if (!this.#t) return;
    const m = /^(\S+) (WARN|ERROR) ([^:]+): ([\s\S]*)$/.exec(line);
    if (!m) return;
    this.#t.log({
      time: Date.parse(m[1]!) || Date.now(),
      level: m[2] === "WARN" ? "warn" : "error",
      body: m[4]!,
      attrs: { "mypaas.scope": m[3]! },
    });
  }

  /** Spans and records the exporter dropped (Prometheus). */
  dropped(): { spans: number; logs: number } {
    return this.#t?.dropped() ?? { spans: 0, logs: 0 };
  }
}
