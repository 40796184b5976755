import assert from "node:assert/strict";
import {
  type Backend,
  raw,
  spec,
  startBackend,
  startProxy,
} from "./_proxy_helpers.ts";
import type { ServiceSpec } from "../lib/spec/types.ts";

async function withTwo(
  extra: Partial<ServiceSpec>,
  fn: (
    port: number,
    a: Backend,
    b: Backend,
    p: Awaited<ReturnType<typeof startProxy>>,
  ) => Promise<void>,
) {
  const p = await startProxy();
  const a = startBackend("a");
  const b = startBackend("b");
  try {
    p.router.setService(spec("svc", ["http://s.test/"], extra));
    p.router.addUpstream("svc", { id: "a", url: a.url });
    p.router.addUpstream("svc", { id: "b", url: b.url });
    await fn(p.port, a, b, p);
  } finally {
    await p.stop();
    await a.close();
    await b.close();
  }
}

Deno.test("round-robin spreads requests evenly over replicas", async () => {
  await withTwo({}, async (port, a, b) => {
    for (let i = 0; i < 10; i++) await raw(port, { host: "s.test" });
    assert.equal(a.hits, 5);
    assert.equal(b.hits, 5);
  });
});

Deno.test("least-connections avoids the replica that is busy", async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => release = r);
  const p = await startProxy();
  const slow = startBackend("slow", async () => {
    await held;
    return new Response("slow");
  });
  const fast = startBackend("fast");
  try {
    p.router.setService(spec("svc", ["http://s.test/"]));
    p.router.setBalanceMode("svc", "least-connections");
    p.router.addUpstream("svc", { id: "slow", url: slow.url });
    p.router.addUpstream("svc", { id: "fast", url: fast.url });
    const pending = raw(p.port, { host: "s.test" }); // round-robin start: slow
    while (slow.hits === 0) await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 6; i++) {
      assert.equal((await raw(p.port, { host: "s.test" })).body, "fast");
    }
    release();
    assert.equal((await pending).body, "slow");
  } finally {
    release();
    await p.stop();
    await slow.close();
    await fast.close();
  }
});

Deno.test("sticky cookie keeps a client on one replica while it is healthy", async () => {
  await withTwo(
    { sticky: { cookie: "mp_sticky", maxAgeS: 600 } },
    async (port, _a, _b, p) => {
      const first = await raw(port, { host: "s.test" });
      const setCookie = first.headers.get("set-cookie") ?? "";
      assert.match(
        setCookie,
        /^mp_sticky=[\w-]{27}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=600$/,
      );
      const cookie = setCookie.split(";")[0]!;
      assert.notEqual(cookie, `mp_sticky=${first.body}`, "the id is not shown");
      for (let i = 0; i < 8; i++) {
        const r = await raw(port, { host: "s.test", headers: { cookie } });
        assert.equal(r.body, first.body);
        assert.equal(r.headers.get("set-cookie"), null);
      }
      // a forged value gets a real assignment
      const forged = await raw(port, {
        host: "s.test",
        headers: { cookie: "mp_sticky=b" },
      });
      assert.ok(forged.headers.get("set-cookie"));
      // the replica goes away: the client moves and gets a new cookie
      const gone = first.body;
      await p.router.drainUpstream("svc", gone, 1000);
      const moved = await raw(port, { host: "s.test", headers: { cookie } });
      assert.notEqual(moved.body, gone);
      assert.ok(moved.headers.get("set-cookie"));
    },
  );
});

Deno.test("hash by header keeps each key on one replica", async () => {
  await withTwo(
    { hash: { by: "header", name: "x-user" } },
    async (port, a, b) => {
      const where = new Map<string, string>();
      for (let round = 0; round < 3; round++) {
        for (let u = 0; u < 12; u++) {
          const r = await raw(port, {
            host: "s.test",
            headers: { "x-user": `user-${u}` },
          });
          const prev = where.get(`user-${u}`);
          if (prev) assert.equal(r.body, prev, `user-${u} moved`);
          where.set(`user-${u}`, r.body);
        }
      }
      assert.ok(a.hits > 0 && b.hits > 0, "keys spread over both replicas");
    },
  );
});

Deno.test("hash by cookie and by client ip are stable too", async () => {
  await withTwo({ hash: { by: "cookie", name: "sid" } }, async (port) => {
    const r1 = await raw(port, {
      host: "s.test",
      headers: { cookie: "sid=42" },
    });
    for (let i = 0; i < 5; i++) {
      const r = await raw(port, {
        host: "s.test",
        headers: { cookie: "sid=42" },
      });
      assert.equal(r.body, r1.body);
    }
  });
  await withTwo({ hash: { by: "ip" } }, async (port, a, b) => {
    for (let i = 0; i < 6; i++) await raw(port, { host: "s.test" });
    assert.ok(a.hits === 6 || b.hits === 6, "one client ip, one replica");
  });
});
