/**
 * An OTLP/HTTP receiver on loopback for the telemetry tests (no collector
 * binary is installable here): it takes the JSON the exporters send to
 * /v1/traces and /v1/logs, keeps each request's headers, and flattens the
 * spans and log records with their attributes. `hang` makes it accept
 * requests and never answer (a collector that is down but listening).
 */

/** An OTLP attribute value as JSON carries it. */
type AnyValue = {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
};

/** A span as received, attributes flattened. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  status?: { code?: number; message?: string };
  attrs: Record<string, string | number | boolean>;
  resource: Record<string, string | number | boolean>;
}

/** A log record as received. */
export interface ReceivedLog {
  body: string;
  severityText?: string;
  traceId?: string;
  spanId?: string;
  attrs: Record<string, string | number | boolean>;
  resource: Record<string, string | number | boolean>;
}

function value(v: AnyValue | undefined): string | number | boolean {
  if (!v) return "";
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  return "";
}

function attrs(
  list: { key: string; value: AnyValue }[] | undefined,
): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const a of list ?? []) out[a.key] = value(a.value);
  return out;
}

/** The receiver. */
export class OtlpReceiver implements AsyncDisposable {
  readonly spans: ReceivedSpan[] = [];
  readonly logs: ReceivedLog[] = [];
  /** Headers of every export request, with its path. */
  readonly requests: { path: string; headers: Headers }[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #hung: (() => void)[] = [];

  constructor(readonly opts: { hang?: boolean } = {}) {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req) => this.#handle(req),
    );
  }

  /** The base URL to configure as `otlp_endpoint`. */
  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  async #handle(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    this.requests.push({ path, headers: req.headers });
    if (this.opts.hang) {
      await req.body?.cancel();
      await new Promise<void>((r) => this.#hung.push(r));
      return new Response("{}", { status: 503 });
    }
    const body = await req.json();
    if (path === "/v1/traces") {
      for (const rs of body.resourceSpans ?? []) {
        const resource = attrs(rs.resource?.attributes);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            this.spans.push({
              traceId: s.traceId,
              spanId: s.spanId,
              ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
              name: s.name,
              kind: s.kind,
              status: s.status,
              attrs: attrs(s.attributes),
              resource,
            });
          }
        }
      }
    } else if (path === "/v1/logs") {
      for (const rl of body.resourceLogs ?? []) {
        const resource = attrs(rl.resource?.attributes);
        for (const sl of rl.scopeLogs ?? []) {
          for (const l of sl.logRecords ?? []) {
            this.logs.push({
              body: String(value(l.body)),
              severityText: l.severityText,
              ...(l.traceId ? { traceId: l.traceId } : {}),
              ...(l.spanId ? { spanId: l.spanId } : {}),
              attrs: attrs(l.attributes),
              resource,
            });
          }
        }
      }
    }
    return new Response("{}", {
      headers: { "content-type": "application/json" },
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const wake of this.#hung.splice(0)) wake();
    await this.#server.shutdown();
  }
}
