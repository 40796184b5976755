/**
 * Telemetry through the real daemon (`main.ts server run` from a
 * config.toml with `[telemetry]`), a real container and a real isolate,
 * against an OTLP/HTTP receiver on loopback: request spans with their
 * attributes, W3C traceparent reaching the container and the function
 * (the proxy's span as parent), deploy-phase spans, function console and
 * container output as log records, the daemon's warnings, the collector's
 * credentials, and `/daemon/metrics` behind its bearer token. A second
 * daemon exports to a collector that never answers: requests go on.
 */
import { ControlClient } from "../../lib/api/control_client.ts";
import { assert, assertEquals } from "../_assert.ts";
import { raw } from "../_proxy_helpers.ts";
import { OtlpReceiver } from "../_otlp_receiver.ts";
import { until } from "../_until.ts";
import {
  BUSYBOX_IMAGE,
  docker,
  ensureBusyboxImage,
  removeByLabel,
  removeImages,
  uniqueName,
} from "./_images.ts";
import { DaemonProcess, freePort } from "./_daemon.ts";

const TOKEN = "metrics-token-0123456789";
const CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";
const CLIENT_TP = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;

async function env(receiver: string) {
  await ensureBusyboxImage();
  const dir = await Deno.makeTempDir({ prefix: "mypaas-otel-e2e-" });
  const network = uniqueName("mypaas-otel");
  const service = uniqueName("otelweb");
  const port = freePort();
  const socket = `${dir}/ctl.sock`;
  await Deno.writeTextFile(
    `${dir}/config.toml`,
    `[server]
domain = "127.0.0.1"
data_dir = "${dir}/data"
control_socket = "${socket}"
bind = "127.0.0.1"
http_port = ${port}
https_port = 0
[docker]
network = "${network}"
[isolates]
min_workers = 1
max_workers = 2
idle_timeout = "1s"
cluster_cpu_pct_target = 1.0
cluster_memory_pct_target = 1.0
[telemetry]
otlp_endpoint = "${receiver}"
otlp_user = "otel-user"
otlp_password = "otel-pass"
otlp_headers = { x-tenant = "e2e" }
sample_ratio = 1
service_name = "mypaas-e2e"
metrics_token = "${TOKEN}"
`,
  );
  // a container that echoes the traceparent it got (CGI) and logs a line
  const app = `${dir}/app`;
  await Deno.mkdir(`${app}/www/cgi-bin`, { recursive: true });
  await Deno.writeTextFile(`${app}/www/health`, "ok\n");
  await Deno.writeTextFile(
    `${app}/www/cgi-bin/tp`,
    '#!/bin/sh\necho "cgi saw $HTTP_TRACEPARENT" >&2\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\necho "tp=$HTTP_TRACEPARENT"\n',
  );
  await Deno.chmod(`${app}/www/cgi-bin/tp`, 0o755);
  await Deno.writeTextFile(
    `${app}/Dockerfile`,
    [
      `FROM ${BUSYBOX_IMAGE}`,
      `# mypaas.service=${service}`,
      `# mypaas.url=http://${service}.localhost`,
      "# mypaas.healthcheck=/health 500ms 500ms",
      "COPY www /www",
      "EXPOSE 80",
      `CMD ["sh", "-c", "echo booted-otel; exec httpd -f -p 80 -h /www"]`,
      "",
    ].join("\n"),
  );
  const fn = `${dir}/fn`;
  await Deno.mkdir(fn);
  await Deno.writeTextFile(
    `${fn}/main.ts`,
    `// mypaas.service=otelfn
// mypaas.url=http://otelfn.fn.test
export default {
  fetch(req: Request): Response {
    const tp = req.headers.get("traceparent");
    console.log("fn saw " + tp);
    return new Response("tp=" + tp);
  },
};
`,
  );
  const daemon = new DaemonProcess(`${dir}/config.toml`);
  return {
    dir,
    port,
    socket,
    service,
    app,
    fn,
    daemon,
    async [Symbol.asyncDispose]() {
      await daemon.stop();
      await removeByLabel(`mypaas.owner=${network}`);
      await removeImages(`mypaas/${service}`);
      await docker(["network", "rm", network], { allowFail: true });
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

Deno.test("e2e telemetry: spans, log records and metrics of a daemon started from config.toml", async () => {
  await using rx = new OtlpReceiver();
  await using t = await env(rx.url);
  t.daemon.start();
  const client = new ControlClient(t.socket);
  try {
    await t.daemon.waitFor("the daemon", async () => {
      await client.list();
      return true;
    });
    const lines: string[] = [];
    const web = await client.deploy(t.app, {}, (l) => lines.push(l));
    assert(web.ok, `${web.error}\n${lines.join("\n")}\n${t.daemon.output}`);
    const fn = await client.deploy(t.fn, {}, (l) => lines.push(l));
    assert(fn.ok, `${fn.error}\n${lines.join("\n")}\n${t.daemon.output}`);

    // the container gets the proxy's span as parent, in the client's trace
    const res = await raw(t.port, {
      host: `${t.service}.localhost`,
      path: "/cgi-bin/tp",
      headers: { traceparent: CLIENT_TP },
    });
    assertEquals(res.status, 200, res.body);
    const m = /^tp=00-([0-9a-f]{32})-([0-9a-f]{16})-01$/m.exec(res.body);
    assert(m, `container saw: ${res.body}`);
    assertEquals(m[1], CLIENT_TRACE);
    const proxySpan = m[2]!;
    assert(proxySpan !== CLIENT_SPAN, "the proxy's own span is the parent");

    // a request without traceparent starts a trace here; the function gets it
    const f = await raw(t.port, { host: "otelfn.fn.test", path: "/x" });
    assertEquals(f.status, 200, f.body);
    const fm = /^tp=00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(f.body);
    assert(fm, `function saw: ${f.body}`);

    const detail = () =>
      JSON.stringify(
        {
          spans: rx.spans.map((s) => s.name),
          logs: rx.logs.map((l) => l.body),
        },
      ) + "\n" + t.daemon.output;
    await until(
      () =>
        rx.spans.some((s) => s.spanId === proxySpan) &&
        rx.spans.some((s) => s.traceId === fm[1] && s.spanId === fm[2]),
      { what: "both request spans", timeoutMs: 15_000, detail },
    );
    const span = rx.spans.find((s) => s.spanId === proxySpan)!;
    assertEquals(span.traceId, CLIENT_TRACE);
    assertEquals(span.parentSpanId, CLIENT_SPAN);
    assertEquals(span.name, `GET ${t.service}.localhost/`);
    assertEquals(span.attrs["mypaas.service"], t.service);
    assertEquals(span.attrs["http.response.status_code"], 200);
    assertEquals(span.attrs["mypaas.release"], "1");
    assert(String(span.attrs["mypaas.replica"]).length > 0, "replica named");
    assert(typeof span.attrs["mypaas.upstream_ms"] === "number");
    assertEquals(span.resource["service.name"], "mypaas-e2e");
    const fnSpan = rx.spans.find((s) => s.spanId === fm[2])!;
    assertEquals(fnSpan.attrs["mypaas.function"], "otelfn");
    assertEquals(fnSpan.parentSpanId, undefined);

    // deploy phases as children of one deploy span; the isolate's load
    await until(() => rx.spans.some((s) => s.name === "deploy.switch"), {
      what: "deploy spans",
      timeoutMs: 15_000,
      detail,
    });
    const root = rx.spans.find((s) =>
      s.name === "deploy" && s.attrs["mypaas.service"] === t.service
    )!;
    assert(root, detail());
    const phases = rx.spans.filter((s) => s.parentSpanId === root.spanId)
      .map((s) => s.name);
    for (
      const p of [
        "deploy.build",
        "deploy.start",
        "deploy.health",
        "deploy.switch",
      ]
    ) {
      assert(phases.includes(p), `${p} in ${phases}`);
    }
    assert(rx.spans.some((s) => s.name === "isolate.boot"), detail());

    // log records: the function's console with its trace-less attributes,
    // the container's output, the daemon's own warning
    const wrong = await fetch(`http://127.0.0.1:${t.port}/daemon/metrics`, {
      headers: { authorization: "Bearer nope" },
    });
    assertEquals(wrong.status, 401);
    await wrong.body?.cancel();
    await until(
      () =>
        rx.logs.some((l) => l.body === `fn saw 00-${fm[1]}-${fm[2]}-01`) &&
        rx.logs.some((l) => l.body.includes(`cgi saw 00-${CLIENT_TRACE}`)) &&
        rx.logs.some((l) => l.body.includes("wrong bearer token")),
      { what: "the log records", timeoutMs: 25_000, detail },
    );
    const fnLog = rx.logs.find((l) => l.body.startsWith("fn saw"))!;
    assertEquals(fnLog.attrs["mypaas.function"], "otelfn");
    assertEquals(fnLog.attrs["mypaas.release"], "1");
    assert(String(fnLog.attrs["service.instance.id"]).startsWith("iso-"));
    const cLog = rx.logs.find((l) => l.body.includes("cgi saw"))!;
    assertEquals(cLog.attrs["mypaas.service"], t.service);
    assertEquals(cLog.attrs["log.iostream"], "stderr");
    assert(String(cLog.attrs["service.instance.id"]).startsWith(t.service));
    const warn = rx.logs.find((l) => l.body.includes("wrong bearer token"))!;
    assertEquals(warn.severityText, "WARN");

    for (const r of rx.requests) {
      assertEquals(
        r.headers.get("authorization"),
        `Basic ${btoa("otel-user:otel-pass")}`,
      );
      assertEquals(r.headers.get("x-tenant"), "e2e");
    }

    // the function goes idle; the next request is a cold start, with a span
    await until(
      async () =>
        (await client.list()).find((d) => d.service === "otelfn")?.state ===
          "idle",
      { what: "the function to go idle", timeoutMs: 15_000 },
    );
    assertEquals((await raw(t.port, { host: "otelfn.fn.test" })).status, 200);
    await until(
      () =>
        rx.spans.some((s) =>
          s.name === "isolate.load" && s.attrs["mypaas.function"] === "otelfn"
        ),
      { what: "the cold load's span", timeoutMs: 15_000, detail },
    );

    // Prometheus, behind the token
    const none = await fetch(`http://127.0.0.1:${t.port}/daemon/metrics`);
    assertEquals(none.status, 401);
    await none.body?.cancel();
    const page = await fetch(`http://127.0.0.1:${t.port}/daemon/metrics`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assertEquals(page.status, 200);
    assert(
      page.headers.get("content-type")!.startsWith("text/plain; version=0.0.4"),
    );
    const text = await page.text();
    assert(
      text.includes(
        `mypaas_http_requests_total{service="${t.service}",kind="service",code="200"} 1`,
      ),
      text,
    );
    assert(
      text.includes(
        `mypaas_http_requests_total{service="otelfn",kind="function",code="200"} 2`,
      ),
      text,
    );
    assert(
      /mypaas_isolate_cold_starts_total\{function="otelfn"\} 1\n/.test(text),
      text,
    );
  } finally {
    client.close();
  }
});

Deno.test("e2e telemetry: a collector that never answers delays no request", async () => {
  await using rx = new OtlpReceiver({ hang: true });
  await using t = await env(rx.url);
  t.daemon.start();
  const client = new ControlClient(t.socket);
  try {
    await t.daemon.waitFor("the daemon", async () => {
      await client.list();
      return true;
    });
    const lines: string[] = [];
    const fn = await client.deploy(t.fn, {}, (l) => lines.push(l));
    assert(fn.ok, `${fn.error}\n${lines.join("\n")}\n${t.daemon.output}`);
    // every request is answered while the exports hang (each of them would
    // time out otherwise: raw() has no timeout of its own beyond the test's)
    for (let i = 0; i < 30; i++) {
      const r = await raw(t.port, { host: "otelfn.fn.test", path: `/${i}` });
      assertEquals(r.status, 200);
    }
    await until(() => rx.requests.some((r) => r.path === "/v1/traces"), {
      what: "an export the collector holds",
      timeoutMs: 15_000,
      detail: () => t.daemon.output,
    });
    const r = await raw(t.port, { host: "otelfn.fn.test", path: "/after" });
    assertEquals(r.status, 200);
  } finally {
    client.close();
  }
});
