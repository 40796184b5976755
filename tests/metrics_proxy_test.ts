/**
 * The proxy records what it answers: per service and function the codes,
 * latency buckets and sizes, and with a tracer a span whose traceparent
 * replaces the client's on the way to the container or the isolate.
 */
import { assert, assertEquals } from "./_assert.ts";
import { raw, spec, startBackend, startProxy } from "./_proxy_helpers.ts";
import { MetricsRegistry } from "../lib/metrics/registry.ts";
import type {
  RequestOutcome,
  RequestRoute,
  RequestSpan,
  RequestTracer,
} from "../lib/telemetry/types.ts";

const SPAN = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/** A tracer that records what it was given; `sample` decides. */
function fakeTracer(sample: boolean) {
  const started: { headers: Record<string, string>; route: RequestRoute }[] =
    [];
  const ended: RequestOutcome[] = [];
  const tracer: RequestTracer = {
    start(_m, _p, headers, route): RequestSpan | undefined {
      started.push({ headers: { ...headers }, route });
      if (!sample) return undefined;
      return {
        traceparent: SPAN,
        traceId: "0af7651916cd43dd8448eb211c80319c",
        end: (o) => ended.push(o),
      };
    },
  };
  return { tracer, started, ended };
}

Deno.test("the proxy counts a service's answers by code with latency and sizes", async () => {
  const backend = startBackend(
    "web",
    (req) =>
      new URL(req.url).pathname === "/boom"
        ? new Response("no", { status: 503 })
        : new Response("hello"),
  );
  const metrics = new MetricsRegistry();
  const proxy = await startProxy({ observe: { metrics } });
  try {
    proxy.router.setService(spec("web", ["http://web.test/"]));
    proxy.router.addUpstream("web", { id: "c1", url: backend.url });
    proxy.router.setHandler("fn", [{
      url: "http://fn.test/",
      scheme: "http",
      host: "fn.test",
      path: "/",
    }], () => Promise.resolve(new Response("fn", { status: 201 })));
    for (let i = 0; i < 3; i++) {
      assertEquals((await raw(proxy.port, { host: "web.test" })).status, 200);
    }
    assertEquals(
      (await raw(proxy.port, { host: "web.test", path: "/boom" })).status,
      503,
    );
    assertEquals(
      (await raw(proxy.port, {
        host: "fn.test",
        method: "POST",
        body: ["abcd"],
      })).status,
      201,
    );
    assertEquals((await raw(proxy.port, { host: "nowhere.test" })).status, 404);
    const web = metrics.of("service:web");
    assertEquals(web.requests, 4);
    assertEquals(web.errors, 1);
    assertEquals([...web.codes].sort(), [[200, 3], [503, 1]]);
    assertEquals(web.bytesOut, 3 * 5 + 2);
    assertEquals(web.open, 0);
    assertEquals(web.buckets.reduce((a, b) => a + b, 0), 4);
    const fn = metrics.of("function:fn");
    assertEquals([...fn.codes], [[201, 1]]);
    assertEquals(fn.bytesIn, 4);
    // an unrouted request belongs to no target
    assertEquals(metrics.all().map((c) => c.target).sort(), [
      "function:fn",
      "service:web",
    ]);
  } finally {
    await proxy.stop();
    await backend.close();
  }
});

Deno.test("a traced request sends its span's traceparent to the container and notes the replica", async () => {
  let seen: string | null = null;
  let state: string | null = null;
  const backend = startBackend("web", (req) => {
    seen = req.headers.get("traceparent");
    state = req.headers.get("tracestate");
    return new Response("ok");
  });
  const metrics = new MetricsRegistry();
  const t = fakeTracer(true);
  const proxy = await startProxy({ observe: { metrics, tracer: t.tracer } });
  try {
    proxy.router.setService(spec("web", ["http://web.test/"]));
    proxy.router.addUpstream("web", {
      id: "c1",
      url: backend.url,
      release: "7",
    });
    const client = "00-11111111111111111111111111111111-2222222222222222-01";
    await raw(proxy.port, {
      host: "web.test",
      headers: { traceparent: client, tracestate: "k=v" },
    });
    assertEquals(t.started[0]!.headers, {
      traceparent: client,
      tracestate: "k=v",
    });
    assertEquals(t.started[0]!.route, {
      kind: "service",
      name: "web",
      route: "web.test/",
    });
    assertEquals(seen, SPAN);
    assertEquals(state, "k=v");
    const o = t.ended[0]!;
    assertEquals([o.status, o.replica, o.release], [200, "c1", "7"]);
    assert(typeof o.upstreamMs === "number" && o.upstreamMs >= 0);
    // started here when the client sent none
    await raw(proxy.port, { host: "web.test" });
    assertEquals(t.started[1]!.headers, {});
    assertEquals(seen, SPAN);
  } finally {
    await proxy.stop();
    await backend.close();
  }
});

Deno.test("a request not sampled passes the client's traceparent on untouched", async () => {
  let seen: string | null = null;
  const backend = startBackend("web", (req) => {
    seen = req.headers.get("traceparent");
    return new Response("ok");
  });
  const t = fakeTracer(false);
  const proxy = await startProxy({
    observe: { metrics: new MetricsRegistry(), tracer: t.tracer },
  });
  try {
    proxy.router.setService(spec("web", ["http://web.test/"]));
    proxy.router.addUpstream("web", { id: "c1", url: backend.url });
    const client = "00-11111111111111111111111111111111-2222222222222222-00";
    await raw(proxy.port, {
      host: "web.test",
      headers: { traceparent: client },
    });
    assertEquals(seen, client);
    assertEquals(t.ended.length, 0);
  } finally {
    await proxy.stop();
    await backend.close();
  }
});
