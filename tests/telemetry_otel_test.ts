/**
 * The OpenTelemetry exporter against a loopback OTLP/HTTP receiver: what a
 * request span and a log record carry, the collector's credentials, W3C
 * trace context kept from the client, sampling, and a collector that never
 * answers: nothing waits on it, the queue stays bounded, drops are counted
 * and reported once per interval.
 */
import { assert, assertEquals } from "./_assert.ts";
import { until } from "./_until.ts";
import { OtlpReceiver } from "./_otlp_receiver.ts";
import { createOtel, parseTraceparent } from "../lib/telemetry/otel.ts";
import type { ResolvedConfig } from "../lib/config/config.ts";

function cfg(
  url: string,
  over: Partial<ResolvedConfig["telemetry"]> = {},
): ResolvedConfig["telemetry"] {
  return {
    otlpEndpoint: url,
    otlpUser: "user",
    otlpPassword: "secret",
    otlpHeaders: { "x-tenant": "t1" },
    sampleRatio: 1,
    serviceName: "mypaas-test",
    metricsToken: "",
    ...over,
  };
}

const ROUTE = { kind: "service", name: "web", route: "web.test/" } as const;

Deno.test("parseTraceparent() takes W3C trace context and refuses bad ones", () => {
  const sc = parseTraceparent(
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "k=v",
  )!;
  assertEquals([sc.traceId, sc.spanId, sc.traceFlags, sc.isRemote], [
    "0af7651916cd43dd8448eb211c80319c",
    "b7ad6b7169203331",
    1,
    true,
  ]);
  assertEquals(sc.traceState?.get("k"), "v");
  for (
    const bad of [
      undefined,
      "",
      "00-00000000000000000000000000000000-b7ad6b7169203331-01",
      "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
      "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      "00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01",
    ]
  ) assertEquals(parseTraceparent(bad), undefined, String(bad));
});

Deno.test("a request span and a log record reach the collector with their attributes and its credentials", async () => {
  await using rx = new OtlpReceiver();
  const t = createOtel(cfg(rx.url), { delayMs: 20, hostName: "h1" });
  try {
    const client = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const span = t.start("GET", "/a", { traceparent: client }, ROUTE)!;
    assert(span, "sampled");
    assertEquals(span.traceId, "0af7651916cd43dd8448eb211c80319c");
    assert(
      /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/.test(
        span.traceparent,
      ),
    );
    assert(!span.traceparent.includes("b7ad6b7169203331"), "a new parent id");
    span.end({
      status: 502,
      bytesIn: 3,
      bytesOut: 7,
      replica: "c1",
      release: "4",
      upstreamMs: 1.5,
    });
    const spanId = span.traceparent.split("-")[2];
    t.log({
      time: Date.now(),
      level: "warn",
      body: "hello",
      attrs: { "mypaas.function": "fn" },
      traceId: span.traceId,
      spanId: spanId!,
    });
    const deploy = t.op("deploy", { "mypaas.service": "web" });
    deploy.child("deploy.build").end();
    deploy.end("rolled back");
    await until(() => rx.spans.length >= 3 && rx.logs.length >= 1, {
      what: "spans and a log record",
    });
    const s = rx.spans.find((x) => x.name === "GET web.test/")!;
    assertEquals(s.parentSpanId, "b7ad6b7169203331");
    assertEquals(s.kind, 2); // SERVER
    assertEquals(s.attrs["http.response.status_code"], 502);
    assertEquals(s.attrs["mypaas.service"], "web");
    assertEquals(s.attrs["mypaas.replica"], "c1");
    assertEquals(s.attrs["mypaas.release"], "4");
    assertEquals(s.attrs["http.response.body.size"], 7);
    assertEquals(s.attrs["url.path"], "/a");
    assertEquals(s.status?.code, 2); // ERROR
    assertEquals(s.resource["service.name"], "mypaas-test");
    assertEquals(s.resource["host.name"], "h1");
    const root = rx.spans.find((x) => x.name === "deploy")!;
    const build = rx.spans.find((x) => x.name === "deploy.build")!;
    assertEquals(build.parentSpanId, root.spanId);
    assertEquals(root.status?.message, "rolled back");
    const l = rx.logs[0]!;
    assertEquals([l.body, l.severityText, l.traceId, l.spanId], [
      "hello",
      "WARN",
      span.traceId,
      spanId,
    ]);
    assertEquals(l.attrs["mypaas.function"], "fn");
    for (const r of rx.requests) {
      assertEquals(
        r.headers.get("authorization"),
        `Basic ${btoa("user:secret")}`,
      );
      assertEquals(r.headers.get("x-tenant"), "t1");
      assertEquals(r.headers.get("content-type"), "application/json");
    }
    assertEquals(
      new Set(rx.requests.map((r) => r.path)),
      new Set(["/v1/traces", "/v1/logs"]),
    );
  } finally {
    await t.shutdown();
  }
});

Deno.test("sample_ratio 0 records no new trace but keeps a sampled client's", async () => {
  await using rx = new OtlpReceiver();
  const t = createOtel(cfg(rx.url, { sampleRatio: 0 }), { delayMs: 20 });
  try {
    assertEquals(t.start("GET", "/", {}, ROUTE), undefined);
    const kept = t.start("GET", "/", {
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    }, ROUTE);
    assert(kept, "a sampled parent is followed");
    assertEquals(
      t.start("GET", "/", {
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
      }, ROUTE),
      undefined,
    );
  } finally {
    await t.shutdown();
  }
});

Deno.test("a collector that never answers blocks nothing: the queue is bounded, drops counted and reported once per interval", async () => {
  await using rx = new OtlpReceiver({ hang: true });
  const warnings: string[] = [];
  const t = createOtel(cfg(rx.url), {
    delayMs: 10,
    maxQueue: 20,
    reportMs: 50,
    exportTimeoutMs: 60_000,
    warn: (m) => warnings.push(m),
  });
  try {
    // every start/end returns at once, whatever the collector does
    for (let i = 0; i < 500; i++) {
      t.start("GET", "/", {}, ROUTE)!.end({
        status: 200,
        bytesIn: 0,
        bytesOut: 0,
      });
      t.log({ time: Date.now(), level: "info", body: `l${i}`, attrs: {} });
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 0));
    }
    await until(() => rx.requests.length > 0, { what: "an export that hangs" });
    const d = t.dropped();
    // at most the queue plus what is in flight (4 exports of <= 20) is kept
    assert(d.spans >= 500 - 20 - 4 * 20, `dropped spans ${d.spans}`);
    assert(d.logs >= 500 - 20 - 4 * 20, `dropped logs ${d.logs}`);
    await until(() => warnings.length >= 1, { what: "the drop report" });
    assert(warnings[0]!.includes("dropped"), warnings[0]);
    assert(warnings[0]!.includes(rx.url), warnings[0]);
    // one line per interval, not one per dropped item
    assert(warnings.length < 20, `${warnings.length} reports`);
  } finally {
    await t.shutdown();
  }
});
