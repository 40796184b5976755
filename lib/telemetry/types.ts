/**
 * @module
 * The seams between the parts that produce telemetry (the proxy, the pool,
 * deploys, logs) and the OpenTelemetry exporter (lib/telemetry/otel.ts),
 * which is loaded only when `[telemetry] otlp_endpoint` is set: these types
 * import nothing, so that an empty endpoint loads no SDK and costs the hot
 * path one `undefined` check.
 */

/** What a request span learns once the answer's head went out. */
export interface RequestOutcome {
  status: number;
  bytesIn: number;
  bytesOut: number;
  /** The container (replica) or isolate that answered. */
  replica?: string;
  release?: string;
  /** Milliseconds from sending upstream to the answer's head. */
  upstreamMs?: number;
}

/** What the proxy routed a request to. */
export interface RequestRoute {
  kind: "service" | "function";
  name: string;
  /** `host/path` of the route. */
  route: string;
}

/** A span of one proxied request. */
export interface RequestSpan {
  /** The W3C `traceparent` to send on (this span as parent). */
  readonly traceparent: string;
  readonly traceId: string;
  end(outcome: RequestOutcome): void;
}

/** Starts request spans; undefined means "not sampled, send nothing". */
export interface RequestTracer {
  start(
    method: string,
    path: string,
    headers: { traceparent?: string; tracestate?: string },
    route: RequestRoute,
  ): RequestSpan | undefined;
}

/** A span of a longer operation (a deploy, its phases, an isolate boot). */
export interface OpSpan {
  readonly traceparent: string;
  child(name: string, attrs?: Record<string, string | number>): OpSpan;
  set(attrs: Record<string, string | number>): void;
  /** Ends the span; `error` marks it failed. */
  end(error?: string): void;
}

/** A log record to export (function console, container output, daemon). */
export interface LogRecordIn {
  /** Milliseconds since the epoch. */
  time: number;
  level: "debug" | "info" | "warn" | "error";
  body: string;
  attrs: Record<string, string>;
  traceId?: string;
  spanId?: string;
}

/** The whole exporter as the daemon's parts see it. */
export interface Telemetry extends RequestTracer {
  /** A root span (a deploy) or a child of `traceparent`. */
  op(
    name: string,
    attrs?: Record<string, string | number>,
    traceparent?: string,
  ): OpSpan;
  log(record: LogRecordIn): void;
  /** Spans and log records dropped because the queue was full. */
  dropped(): { spans: number; logs: number };
  /** Flushes what is queued, bounded in time. */
  shutdown(): Promise<void>;
}
