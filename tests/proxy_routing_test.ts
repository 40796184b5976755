import assert from "node:assert/strict";
import {
  raw,
  type RawResponse,
  spec,
  startBackend,
  startProxy,
  testConfig,
} from "./_proxy_helpers.ts";
import { Router } from "../lib/proxy/router.ts";
import { createProxyHandler } from "../lib/proxy/proxy_handler.ts";

Deno.test("proxy routes by host and longest prefix, 404 for unknown hosts", async () => {
  const p = await startProxy();
  const web = startBackend("web");
  const api = startBackend(
    "api",
    (req) => new Response(`api ${new URL(req.url).pathname}`),
  );
  try {
    p.router.setService(spec("web", ["http://a.test/"]));
    p.router.setService(spec("api", ["http://a.test/api"]));
    p.router.addUpstream("web", { id: "w1", url: web.url });
    p.router.addUpstream("api", { id: "a1", url: api.url });
    assert.equal(
      (await raw(p.port, { host: "a.test", path: "/x" })).body,
      "web",
    );
    const r = await raw(p.port, { host: "a.test:80", path: "/api/users?q=1" });
    assert.equal(r.status, 200);
    assert.equal(r.body, "api /api/users", "prefix forwarded as it is");
    const unknown = await raw(p.port, { host: "nope.test" });
    assert.equal(unknown.status, 404);
    assert.ok(unknown.body.length < 200 && !unknown.body.includes("127.0.0.1"));
  } finally {
    await p.stop();
    await web.close();
    await api.close();
  }
});

Deno.test("proxy strips the path prefix when the router is told to", async () => {
  const p = await startProxy({ router: { stripPrefix: true } });
  const api = startBackend(
    "api",
    (req) => new Response(new URL(req.url).pathname),
  );
  try {
    p.router.setService(spec("api", ["http://a.test/api"]));
    p.router.addUpstream("api", { id: "a1", url: api.url });
    assert.equal(
      (await raw(p.port, { host: "a.test", path: "/api/users" })).body,
      "/users",
    );
    assert.equal(
      (await raw(p.port, { host: "a.test", path: "/api" })).body,
      "/",
    );
  } finally {
    await p.stop();
    await api.close();
  }
});

/**
 * Sends one request for a.test through a proxy to an echo upstream; the
 * headers the upstream got and the answer.
 */
async function echoed(
  opts: Parameters<typeof raw>[1],
  more?: (port: number) => Promise<void>,
): Promise<{ seen: Record<string, string>; res: RawResponse }> {
  const p = await startProxy();
  const echo = startBackend(
    "echo",
    (req) => Response.json(Object.fromEntries(req.headers)),
  );
  try {
    p.router.setService(spec("echo", ["http://a.test/"]));
    p.router.addUpstream("echo", { id: "e1", url: echo.url });
    const res = await raw(p.port, opts);
    await more?.(p.port);
    return { seen: JSON.parse(res.body), res };
  } finally {
    await p.stop();
    await echo.close();
  }
}

Deno.test("proxy adds X-Forwarded-* and keeps or makes X-Request-Id", async () => {
  const { seen, res } = await echoed({
    host: "a.test",
    headers: { "x-request-id": "abc-123", "x-forwarded-for": "10.9.9.9" },
  }, async (port) => {
    const fresh = await raw(port, { host: "a.test" });
    assert.match(fresh.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  });
  assert.equal(seen["x-forwarded-for"], "10.9.9.9, 127.0.0.1");
  assert.equal(seen["x-forwarded-proto"], "http");
  assert.equal(seen["x-forwarded-host"], "a.test");
  assert.equal(seen["x-request-id"], "abc-123");
  assert.equal(res.headers.get("x-request-id"), "abc-123");
});

Deno.test("proxy sets X-Real-IP and Forwarded itself and drops the client's X-Forwarded-Port/-Prefix", async () => {
  const { seen } = await echoed({
    host: "a.test",
    headers: {
      "x-real-ip": "10.9.9.9",
      "forwarded": "for=10.9.9.9;proto=https;host=bank.example",
      "x-forwarded-port": "443",
      "x-forwarded-prefix": "/admin",
      "x-forwarded-proto": "https",
    },
  });
  assert.equal(seen["x-real-ip"], "127.0.0.1");
  assert.equal(seen["forwarded"], "for=127.0.0.1;host=a.test;proto=http");
  assert.equal(seen["x-forwarded-proto"], "http");
  assert.equal(seen["x-forwarded-port"], undefined);
  assert.equal(seen["x-forwarded-prefix"], undefined);
});

Deno.test("an absolute-form request reaches the upstream with the authority it was routed by", async () => {
  const { seen, res } = await echoed({
    host: "internal.example",
    path: "http://a.test/x",
  });
  assert.equal(res.status, 200);
  assert.equal(seen["host"], "a.test");
  assert.equal(seen["x-forwarded-host"], "a.test");
});

Deno.test("proxy redirects http to https for https URLs, keeps http URLs", async () => {
  const p = await startProxy();
  const web = startBackend("web");
  try {
    p.router.setService(
      spec("web", ["https://secure.test/", "http://plain.test/"]),
    );
    p.router.addUpstream("web", { id: "w1", url: web.url });
    const r = await raw(p.port, { host: "secure.test", path: "/a?b=1" });
    assert.equal(r.status, 308);
    assert.equal(r.headers.get("location"), "https://secure.test/a?b=1");
    assert.equal((await raw(p.port, { host: "plain.test" })).body, "web");
  } finally {
    await p.stop();
    await web.close();
  }
});

Deno.test("proxy streams request and response bodies both ways", async () => {
  const p = await startProxy();
  const echo = startBackend(
    "echo",
    async (req) => new Response(`got ${(await req.text()).length}`),
  );
  try {
    p.router.setService(spec("echo", ["http://a.test/"]));
    p.router.addUpstream("echo", { id: "e1", url: echo.url });
    const chunk = "x".repeat(64 * 1024);
    const r = await raw(p.port, {
      host: "a.test",
      method: "POST",
      body: [chunk, chunk, chunk],
    });
    assert.equal(r.body, `got ${3 * chunk.length}`);
  } finally {
    await p.stop();
    await echo.close();
  }
});

Deno.test("admin domain /daemon/* goes to the admin handler, the rest to routes", async () => {
  const p = await startProxy();
  const web = startBackend("web");
  try {
    p.router.setService(spec("site", ["http://admin.test/"]));
    p.router.addUpstream("site", { id: "s1", url: web.url });
    p.router.setAdminHandler((req) =>
      Promise.resolve(new Response(`admin ${new URL(req.url).pathname}`))
    );
    assert.equal(
      (await raw(p.port, { host: "admin.test", path: "/daemon/time" })).body,
      "admin /daemon/time",
    );
    assert.equal(
      (await raw(p.port, { host: "admin.test", path: "/x" })).body,
      "web",
    );
  } finally {
    await p.stop();
    await web.close();
  }
});

Deno.test("admin /daemon/* over plain HTTP answers only loopback: GET is redirected to HTTPS, POST is 403", async () => {
  const router = new Router();
  let reached = 0;
  router.setAdminHandler(() => {
    reached++;
    return Promise.resolve(new Response("admin"));
  });
  const config = testConfig();
  const handler = createProxyHandler(router, {
    ...config.proxy,
    domain: "admin.test",
    httpsPort: 8443,
  }, () => Promise.reject(new Error("no upstream in this test")));
  const peer = (hostname: string, scheme: "http" | "https" = "http") => ({
    remoteAddr: { transport: "tcp" as const, hostname, port: 40000 },
    scheme,
  });
  try {
    const get = await handler(
      new Request("http://admin.test/daemon/time?x=1"),
      peer("203.0.113.7"),
    );
    assert.equal(get.status, 308);
    assert.equal(
      get.headers.get("location"),
      "https://admin.test:8443/daemon/time?x=1",
    );
    const push = await handler(
      new Request("http://admin.test/daemon/push?id=x", {
        method: "POST",
        body: "zip",
      }),
      peer("2001:db8::1"),
    );
    assert.equal(push.status, 403);
    assert.match(
      await push.text(),
      /HTTPS only: use https:\/\/admin\.test:8443\/daemon\//,
    );
    assert.equal(reached, 0, "the admin API was not reached over HTTP");
    for (const ip of ["127.0.0.1", "127.8.0.2", "::1", "::ffff:127.0.0.1"]) {
      const r = await handler(
        new Request("http://admin.test/daemon/time"),
        peer(ip),
      );
      assert.equal(await r.text(), "admin", ip);
    }
    const tls = await handler(
      new Request("https://admin.test/daemon/time"),
      peer("203.0.113.7", "https"),
    );
    assert.equal(await tls.text(), "admin");
  } finally {
    router.stop();
  }
});

Deno.test("handler backends answer in-process and conflict with services", async () => {
  const p = await startProxy();
  try {
    p.router.setService(spec("web", ["http://a.test/"]));
    assert.throws(
      () =>
        p.router.setHandler("fn", [{
          url: "http://a.test/",
          scheme: "http",
          host: "a.test",
          path: "/",
        }], () => Promise.resolve(new Response("fn"))),
      (e: Error & { status?: number }) => e.status === 409,
    );
    p.router.setHandler(
      "fn",
      [{ url: "http://f.test/", scheme: "http", host: "f.test", path: "/" }],
      (_req, info) => Promise.resolve(new Response(`fn ${info.scheme}`)),
    );
    assert.equal((await raw(p.port, { host: "f.test" })).body, "fn http");
    p.router.removeHandler("fn");
    assert.equal((await raw(p.port, { host: "f.test" })).status, 404);
  } finally {
    await p.stop();
  }
});

Deno.test("ACME challenges on plain HTTP reach the challenge handler, not the redirect", async () => {
  const p = await startProxy();
  try {
    p.router.setService(spec("web", ["https://secure.test/"]));
    p.router.setChallengeHandler((req) =>
      Promise.resolve(new Response(`token ${new URL(req.url).pathname}`))
    );
    const r = await raw(p.port, {
      host: "secure.test",
      path: "/.well-known/acme-challenge/abc",
    });
    assert.equal(r.status, 200);
    assert.equal(r.body, "token /.well-known/acme-challenge/abc");
    assert.equal((await raw(p.port, { host: "secure.test" })).status, 308);
  } finally {
    await p.stop();
  }
});

Deno.test("proxy sends x-deno-deploy-id requests to the deploy-id handler whatever their Host", async () => {
  const p = await startProxy();
  const web = startBackend("web");
  try {
    p.router.setService(spec("web", ["http://a.test/"]));
    p.router.addUpstream("web", { id: "w1", url: web.url });
    p.router.setDeployIdHandler((req) =>
      Promise.resolve(
        new Response(`fn ${req.headers.get("x-deno-deploy-id")}`),
      )
    );
    const byId = await raw(p.port, {
      host: "a.test",
      headers: { "x-deno-deploy-id": "hello" },
    });
    assert.equal(byId.body, "fn hello");
    const other = await raw(p.port, {
      host: "elsewhere.test",
      headers: { "x-deno-deploy-id": "hello@2" },
    });
    assert.equal(other.body, "fn hello@2");
    assert.equal((await raw(p.port, { host: "a.test" })).body, "web");
  } finally {
    await p.stop();
    await web.close();
  }
});
