/**
 * @module
 * The OpenTelemetry side, loaded (dynamic import) only when
 * `[telemetry] otlp_endpoint` is set: request and operation spans through
 * the trace SDK, log records through the logs SDK, both exported as
 * OTLP/HTTP JSON to `ENDPOINT/v1/traces` and `/v1/logs` with basic auth and
 * the configured headers. Exports are batched; a queue of at most
 * `maxQueue` spans and as many records stands between the daemon and a slow
 * or dead collector: past it new ones are dropped and counted, and the
 * count is logged once per interval. Nothing here ever awaits the network
 * on a request's path.
 */
import {
  context,
  createTraceState,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
} from "@opentelemetry/api";
import { SeverityNumber } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  type ReadableSpan,
  type SpanExporter,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import {
  BatchLogRecordProcessor,
  LoggerProvider,
  type LogRecordExporter,
  type ReadableLogRecord,
} from "@opentelemetry/sdk-logs";
import { resourceFromAttributes } from "@opentelemetry/resources";
import type { ResolvedConfig } from "../config/config.ts";
import type {
  LogRecordIn,
  OpSpan,
  RequestOutcome,
  RequestRoute,
  RequestSpan,
  Telemetry,
} from "./types.ts";

/** Settings besides `[telemetry]` (tests shorten the delays). */
export interface OtelOptions {
  /** Most spans (and, apart, log records) queued for export. */
  maxQueue?: number;
  /** How long a batch may wait before it is sent (ms). */
  delayMs?: number;
  /** One export request's timeout (ms). */
  exportTimeoutMs?: number;
  /** How often drops and failures are logged (ms). */
  reportMs?: number;
  /** Where drops and failed exports are reported. */
  warn?: (msg: string) => void;
  /** `host.name` of the resource. */
  hostName?: string;
}

const TRACEPARENT =
  /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-|$)/;

/** The remote parent a valid `traceparent` names (W3C Trace Context). */
export function parseTraceparent(
  header: string | undefined,
  state?: string,
): SpanContext | undefined {
  const m = header ? TRACEPARENT.exec(header.trim().toLowerCase()) : null;
  if (!m || m[1] === "ff") return undefined;
  const traceId = m[2]!, spanId = m[3]!;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  let traceState;
  if (state) {
    try {
      traceState = createTraceState(state);
    } catch { /* a bad tracestate is dropped, the parent kept */ }
  }
  return {
    traceId,
    spanId,
    traceFlags: parseInt(m[4]!, 16) & 1,
    isRemote: true,
    ...(traceState ? { traceState } : {}),
  };
}

function traceparentOf(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & 1}`;
}

/**
 * Counts what waits for export and drops past `max`. The batch processors
 * bound their own queues too; this one counts what they would drop silently.
 */
class Gate<T> {
  pending = 0;
  dropped = 0;
  failed = 0;
  constructor(readonly max: number) {}
  admit(): boolean {
    if (this.pending >= this.max) {
      this.dropped++;
      return false;
    }
    this.pending++;
    return true;
  }
}

/** `inner` with what it is handed counted out of `gate`, failures counted. */
function gated<T, E extends ExporterLike<T>>(gate: Gate<T>, inner: E): E {
  return {
    export(items: T[], cb: (r: { code: number }) => void) {
      gate.pending = Math.max(0, gate.pending - items.length);
      inner.export(items, (r) => {
        if (r.code !== 0) gate.failed += items.length;
        cb(r);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  } as unknown as E;
}

interface ExporterLike<T> {
  export(items: T[], cb: (r: { code: number }) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
}

const SEVERITY = {
  debug: SeverityNumber.DEBUG,
  info: SeverityNumber.INFO,
  warn: SeverityNumber.WARN,
  error: SeverityNumber.ERROR,
} as const;

/** Builds the exporter from `[telemetry]`. */
export function createOtel(
  cfg: ResolvedConfig["telemetry"],
  opts: OtelOptions = {},
): Telemetry {
  const base = cfg.otlpEndpoint.replace(/\/+$/, "");
  const headers: Record<string, string> = { ...cfg.otlpHeaders };
  if (cfg.otlpUser) {
    headers.authorization = "Basic " +
      btoa(`${cfg.otlpUser}:${cfg.otlpPassword}`);
  }
  const maxQueue = opts.maxQueue ?? 2048;
  const batch = {
    maxQueueSize: maxQueue,
    maxExportBatchSize: Math.min(512, maxQueue),
    scheduledDelayMillis: opts.delayMs ?? 1000,
    exportTimeoutMillis: opts.exportTimeoutMs ?? 10_000,
  };
  const exporterOpts = {
    headers,
    timeoutMillis: opts.exportTimeoutMs ?? 10_000,
    // at most this many exports in flight: with the queue, bounds memory
    concurrencyLimit: 4,
  };
  const resource = resourceFromAttributes({
    "service.name": cfg.serviceName,
    "host.name": opts.hostName ?? Deno.hostname(),
  });
  const spans = new Gate<ReadableSpan>(maxQueue);
  const logs = new Gate<ReadableLogRecord>(maxQueue);
  const spanProcessor = new BatchSpanProcessor({
    exporter: gated(
      spans,
      new OTLPTraceExporter({
        url: `${base}/v1/traces`,
        ...exporterOpts,
      }) as SpanExporter,
    ),
    ...batch,
  });
  const provider = new TracerProvider({
    resource,
    sampler: new ParentBasedSampler({
      root: new TraceIdRatioBasedSampler(cfg.sampleRatio),
    }),
    spanProcessors: [{
      onStart: (s, c) => spanProcessor.onStart(s, c),
      onEnd: (s) => {
        if (spans.admit()) spanProcessor.onEnd(s);
      },
      forceFlush: () => spanProcessor.forceFlush(),
      shutdown: () => spanProcessor.shutdown(),
    }],
  });
  const logProcessor = new BatchLogRecordProcessor({
    exporter: gated(
      logs,
      new OTLPLogExporter({
        url: `${base}/v1/logs`,
        ...exporterOpts,
      }) as LogRecordExporter,
    ),
    ...batch,
  });
  const loggers = new LoggerProvider({
    resource,
    processors: [{
      onEmit: (r) => {
        if (logs.admit()) logProcessor.onEmit(r);
      },
      forceFlush: () => logProcessor.forceFlush(),
      shutdown: () => logProcessor.shutdown(),
    }],
  });
  const tracer = provider.getTracer("mypaas");
  const logger = loggers.getLogger("mypaas");

  // drops and failures, once per interval
  let reported = { dropped: 0, failed: 0 };
  const report = setInterval(() => {
    const dropped = spans.dropped + logs.dropped;
    const failed = spans.failed + logs.failed;
    if (dropped > reported.dropped || failed > reported.failed) {
      opts.warn?.(
        `OTLP export to ${base}: ${
          dropped - reported.dropped
        } spans/log records dropped (queue full), ${
          failed - reported.failed
        } not accepted, since the last report; the collector is slow or down`,
      );
    }
    reported = { dropped, failed };
  }, opts.reportMs ?? 60_000);
  Deno.unrefTimer(report);

  const opSpan = (span: Span): OpSpan => ({
    traceparent: traceparentOf(span.spanContext()),
    child: (name, attrs) =>
      opSpan(
        tracer.startSpan(
          name,
          attrs ? { attributes: attrs } : {},
          trace.setSpan(ROOT_CONTEXT, span),
        ),
      ),
    set: (attrs) => {
      span.setAttributes(attrs);
    },
    end: (error) => {
      if (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: error });
      }
      span.end();
    },
  });

  return {
    start(
      method: string,
      path: string,
      h: { traceparent?: string; tracestate?: string },
      route: RequestRoute,
    ): RequestSpan | undefined {
      const parent = parseTraceparent(h.traceparent, h.tracestate);
      const ctx = parent
        ? trace.setSpanContext(ROOT_CONTEXT, parent)
        : ROOT_CONTEXT;
      const span = tracer.startSpan(`${method} ${route.route}`, {
        kind: SpanKind.SERVER,
        attributes: {
          "http.request.method": method,
          "url.path": path,
          "http.route": route.route,
          "mypaas.kind": route.kind,
          [`mypaas.${route.kind}`]: route.name,
        },
      }, ctx);
      if (!span.isRecording()) return undefined;
      const sc = span.spanContext();
      return {
        traceparent: traceparentOf(sc),
        traceId: sc.traceId,
        end(o: RequestOutcome) {
          span.setAttributes({
            "http.response.status_code": o.status,
            "http.request.body.size": o.bytesIn,
            "http.response.body.size": o.bytesOut,
            ...(o.replica ? { "mypaas.replica": o.replica } : {}),
            ...(o.release ? { "mypaas.release": o.release } : {}),
            ...(o.upstreamMs !== undefined
              ? { "mypaas.upstream_ms": Math.round(o.upstreamMs * 1000) / 1000 }
              : {}),
          });
          if (o.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        },
      };
    },
    op(name, attrs, traceparent) {
      const parent = parseTraceparent(traceparent);
      const ctx = parent
        ? trace.setSpanContext(ROOT_CONTEXT, parent)
        : ROOT_CONTEXT;
      return opSpan(
        tracer.startSpan(name, attrs ? { attributes: attrs } : {}, ctx),
      );
    },
    log(r: LogRecordIn) {
      const ctx = r.traceId && r.spanId
        ? trace.setSpanContext(ROOT_CONTEXT, {
          traceId: r.traceId,
          spanId: r.spanId,
          traceFlags: TraceFlags.SAMPLED,
        })
        : context.active();
      logger.emit({
        timestamp: r.time,
        severityNumber: SEVERITY[r.level],
        severityText: r.level.toUpperCase(),
        body: r.body,
        attributes: r.attrs,
        context: ctx,
      });
    },
    dropped: () => ({ spans: spans.dropped, logs: logs.dropped }),
    async shutdown() {
      clearInterval(report);
      // bounded: a dead collector does not hold the daemon's exit
      await Promise.race([
        Promise.allSettled([provider.shutdown(), loggers.shutdown()]),
        new Promise((r) => Deno.unrefTimer(setTimeout(r, 3000))),
      ]);
    },
  };
}
