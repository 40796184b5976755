import assert from "node:assert/strict";
import { raw, spec, startBackend, startProxy } from "./_proxy_helpers.ts";
import { forwardToPool, h1Send } from "../lib/proxy/forward.ts";
import { H1Client } from "../lib/http1/client.ts";
import { readHead } from "../lib/proxy/headers.ts";
import { StickySigner } from "../lib/proxy/sticky.ts";
import { UpstreamPool } from "../lib/proxy/upstream_pool.ts";
import { until } from "./_until.ts";

Deno.test("active health checks take a failing replica out and back in", async () => {
  let healthy = true;
  const p = await startProxy();
  const a = startBackend(
    "a",
    (req) =>
      new URL(req.url).pathname === "/health"
        ? new Response(null, { status: healthy ? 204 : 500 })
        : new Response("a"),
  );
  const b = startBackend("b");
  try {
    const healthcheck = { path: "/health", intervalMs: 30, timeoutMs: 500 };
    p.router.setService(spec("svc", ["http://s.test/"], { healthcheck }));
    p.router.addUpstream("svc", { id: "a", url: a.url, healthcheck });
    p.router.addUpstream("svc", { id: "b", url: b.url, healthcheck });
    const pool = p.router.pool("svc")!;
    healthy = false;
    await until(() => pool.usable().length === 1);
    for (let i = 0; i < 4; i++) {
      assert.equal((await raw(p.port, { host: "s.test" })).body, "b");
    }
    healthy = true;
    await until(() => pool.usable().length === 2);
  } finally {
    await p.stop();
    await a.close();
    await b.close();
  }
});

Deno.test("a new release's healthcheck does not judge the old release's replicas", async () => {
  const p = await startProxy();
  const paths = new Map<string, string[]>();
  const backend = (name: string) =>
    startBackend(name, (req) => {
      const path = new URL(req.url).pathname;
      paths.set(name, [...(paths.get(name) ?? []), path]);
      // the old release has /up only: /nope is a 404 on every replica
      return path === "/up"
        ? new Response(null, { status: 204 })
        : path === "/"
        ? new Response(name)
        : new Response("no", { status: 404 });
    });
  const old1 = backend("old1");
  const old2 = backend("old2");
  const fresh = backend("fresh");
  try {
    const up = { path: "/up", intervalMs: 20, timeoutMs: 500 };
    const nope = { path: "/nope", intervalMs: 20, timeoutMs: 500 };
    p.router.setService(spec("svc", ["http://s.test/"], { healthcheck: up }));
    p.router.addUpstream("svc", { id: "o1", url: old1.url, healthcheck: up });
    p.router.addUpstream("svc", { id: "o2", url: old2.url, healthcheck: up });
    const pool = p.router.pool("svc")!;
    await until(() => (paths.get("old1")?.length ?? 0) >= 2);
    // the deploy of a release with a failing check publishes its spec first
    p.router.setService(spec("svc", ["http://s.test/"], { healthcheck: nope }));
    p.router.addUpstream("svc", {
      id: "n1",
      url: fresh.url,
      healthcheck: nope,
    });
    await until(() => (paths.get("fresh") ?? []).includes("/nope"));
    await until(() => pool.usable().length === 2);
    const seen = (paths.get("old1")?.length ?? 0) +
      (paths.get("old2")?.length ?? 0);
    await until(() =>
      (paths.get("old1")?.length ?? 0) + (paths.get("old2")?.length ?? 0) >=
        seen + 4
    );
    assert.deepEqual(pool.usable().map((t) => t.id).sort(), ["o1", "o2"]);
    for (const name of ["old1", "old2"]) {
      assert.ok(
        paths.get(name)!.every((x) => x === "/up"),
        `${name} was only checked at /up: ${paths.get(name)}`,
      );
    }
    assert.ok(!paths.get("fresh")!.includes("/up"), "fresh gets the new check");
    for (let i = 0; i < 4; i++) {
      const r = await raw(p.port, { host: "s.test" });
      assert.equal(r.status, 200);
      assert.match(r.body, /^old[12]$/);
    }
    // rollback: the old spec comes back, the new replica is drained
    p.router.setService(spec("svc", ["http://s.test/"], { healthcheck: up }));
    await p.router.drainUpstream("svc", "n1", 0);
    const before = paths.get("fresh")!.length;
    const ticks = paths.get("old1")!.length;
    await until(() => paths.get("old1")!.length >= ticks + 3);
    assert.ok(paths.get("fresh")!.length <= before + 1, "drained: no checks");
    assert.deepEqual(pool.usable().map((t) => t.id).sort(), ["o1", "o2"]);
  } finally {
    await p.stop();
    await old1.close();
    await old2.close();
    await fresh.close();
  }
});

Deno.test("a connection error ejects the replica and an idempotent request is retried", async () => {
  const p = await startProxy();
  const dead = startBackend("dead");
  await dead.close(); // its port now refuses connections
  const live = startBackend("live");
  try {
    p.router.setService(spec("svc", ["http://s.test/"]));
    p.router.addUpstream("svc", { id: "dead", url: dead.url });
    p.router.addUpstream("svc", { id: "live", url: live.url });
    for (let i = 0; i < 4; i++) {
      const r = await raw(p.port, { host: "s.test" });
      assert.equal(r.status, 200);
      assert.equal(r.body, "live");
    }
    assert.deepEqual(p.router.pool("svc")!.usable().map((t) => t.id), ["live"]);
  } finally {
    await p.stop();
    await live.close();
  }
});

Deno.test("a POST with a body is not retried: 502 after a connection error", async () => {
  const p = await startProxy();
  const dead = startBackend("dead");
  await dead.close();
  try {
    p.router.setService(spec("svc", ["http://s.test/"]));
    p.router.addUpstream("svc", { id: "dead", url: dead.url });
    const r = await raw(p.port, {
      host: "s.test",
      method: "POST",
      body: ["x"],
    });
    assert.equal(r.status, 502);
  } finally {
    await p.stop();
  }
});

Deno.test("with no healthy replica a request waits for one, then gets it", async () => {
  const p = await startProxy({ proxy: { unavailableWait: 3000 } });
  const late = startBackend("late");
  try {
    p.router.setService(spec("svc", ["http://s.test/"]));
    const pending = raw(p.port, { host: "s.test" });
    setTimeout(
      () => p.router.addUpstream("svc", { id: "l", url: late.url }),
      100,
    );
    const r = await pending;
    assert.equal(r.status, 200);
    assert.equal(r.body, "late");
  } finally {
    await p.stop();
    await late.close();
  }
});

Deno.test("with no healthy replica a request gets 503 after unavailableWait", async () => {
  const p = await startProxy({ proxy: { unavailableWait: 150 } });
  try {
    p.router.setService(spec("svc", ["http://s.test/"]));
    const t0 = Date.now();
    const r = await raw(p.port, { host: "s.test" });
    assert.equal(r.status, 503);
    assert.ok(Date.now() - t0 >= 140, "it waited");
    assert.ok(!r.body.includes("svc"), "generic page");
  } finally {
    await p.stop();
  }
});

Deno.test("a connect that fails on this host (EMFILE) ejects no replica: 503, and the replica keeps its place", async () => {
  // Deno.connect throws this when the process is out of descriptors
  // (checked with `ulimit -n 40`: Error, code "EMFILE", os error 24)
  const emfile = () =>
    Promise.reject(
      Object.assign(new Error("Too many open files (os error 24)"), {
        code: "EMFILE",
      }),
    );
  const refused = () =>
    Promise.reject(
      Object.assign(new Error("Connection refused (os error 111)"), {
        code: "ECONNREFUSED",
      }),
    );
  const pool = new UpstreamPool("svc", { signer: new StickySigner() });
  pool.add({ id: "a", url: "http://10.9.9.9:80" });
  const forward = async (connect: typeof emfile) => {
    const client = new H1Client({ connect });
    try {
      const req = new Request("http://s.test/");
      return await forwardToPool(
        {
          req,
          side: {
            clientIp: "127.0.0.1",
            scheme: "http",
            host: "s.test",
            requestId: "r",
          },
          head: readHead(req, "/"),
          pathAndQuery: "/",
          hsts: false,
        },
        pool,
        {
          maxBody: 1 << 20,
          upstreamTimeout: 2000,
          clientTimeout: 2000,
          unavailableWait: 0,
        },
        h1Send(client),
      );
    } finally {
      client.close();
    }
  };
  for (let i = 0; i < 3; i++) {
    const res = await forward(emfile);
    await res.body?.cancel();
    assert.equal(res.status, 503);
    assert.deepEqual(pool.usable().map((t) => t.id), ["a"], "not ejected");
  }
  // a replica that refuses the connection is still ejected
  const res = await forward(refused);
  await res.body?.cancel();
  assert.equal(res.status, 502);
  assert.deepEqual(pool.usable().map((t) => t.id), []);
});
