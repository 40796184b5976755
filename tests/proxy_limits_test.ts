import assert from "node:assert/strict";
import { raw, spec, startBackend, startProxy } from "./_proxy_helpers.ts";

async function withEcho(
  proxy: Parameters<typeof startProxy>[0],
  handler: (req: Request) => Response | Promise<Response>,
  fn: (port: number) => Promise<void>,
) {
  const p = await startProxy(proxy);
  const echo = startBackend("echo", handler);
  try {
    p.router.setService(spec("svc", ["http://s.test/"]));
    p.router.addUpstream("svc", { id: "e", url: echo.url });
    await fn(p.port);
  } finally {
    await p.stop();
    await echo.close();
  }
}

const text = async (req: Request) => {
  try {
    return new Response(`len ${(await req.text()).length}`);
  } catch {
    return new Response("aborted", { status: 499 });
  }
};

Deno.test("a declared body over maxBody gets 413", async () => {
  await withEcho({ proxy: { maxBody: 1000 } }, text, async (port) => {
    const r = await raw(port, {
      host: "s.test",
      method: "POST",
      headers: { "content-length": "5000" },
    });
    assert.equal(r.status, 413);
    const ok = await raw(port, {
      host: "s.test",
      method: "POST",
      body: ["x".repeat(900)],
    });
    assert.equal(ok.body, "len 900");
  });
});

Deno.test("a chunked body growing over maxBody gets 413", async () => {
  await withEcho({ proxy: { maxBody: 1000 } }, text, async (port) => {
    const chunk = (s: string) => `${s.length.toString(16)}\r\n${s}\r\n`;
    const r = await raw(port, {
      host: "s.test",
      method: "POST",
      headers: { "transfer-encoding": "chunked" },
      body: [chunk("y".repeat(800)), chunk("y".repeat(800)), "0\r\n\r\n"],
    });
    assert.equal(r.status, 413);
  });
});

Deno.test("a request head over maxHeader gets 431", async () => {
  await withEcho({ proxy: { maxHeader: 4096 } }, text, async (port) => {
    const r = await raw(port, {
      host: "s.test",
      headers: { "x-big": "z".repeat(5000) },
    });
    assert.equal(r.status, 431);
  });
});

Deno.test("a Host that is no host name, IP literal or port gets 400; good ones pass", async () => {
  let hits = 0;
  await withEcho({}, () => {
    hits++;
    return new Response("ok");
  }, async (port) => {
    for (const host of ["s.test/x?y", "s.test x", "u@s.test", "s.test:80:1"]) {
      assert.equal((await raw(port, { host })).status, 400, host);
    }
    assert.equal(hits, 0);
    for (const host of ["s.test", "S.TEST:80", "s.test."]) {
      assert.equal((await raw(port, { host })).status, 200, host);
    }
    // IP literals are hosts too (no route for them here: 404, not 400)
    for (const host of ["127.0.0.1:8080", "[::1]:8080"]) {
      assert.equal((await raw(port, { host })).status, 404, host);
    }
  });
});

Deno.test("an upstream slower than upstreamTimeout gets 504", async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => release = r);
  await withEcho(
    { proxy: { upstreamTimeout: 150 } },
    async () => {
      await held;
      return new Response("late");
    },
    async (port) => {
      const r = await raw(port, { host: "s.test" });
      assert.equal(r.status, 504);
      release();
    },
  );
});

Deno.test("a client sending its body slower than clientTimeout gets 408", async () => {
  await withEcho({ proxy: { clientTimeout: 200 } }, text, async (port) => {
    const r = await raw(port, {
      host: "s.test",
      method: "POST",
      headers: { "content-length": "30" },
      body: ["aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc"],
      delayMs: 150,
    });
    assert.equal(r.status, 408);
  });
});

Deno.test("function backends get the body limit too (413 on a chunked body)", async () => {
  const p = await startProxy({ proxy: { maxBody: 1000 } });
  try {
    p.router.setHandler(
      "fn",
      [{ url: "http://f.test/", scheme: "http", host: "f.test", path: "/" }],
      async (req) => new Response(`len ${(await req.text()).length}`),
    );
    const chunk = (s: string) => `${s.length.toString(16)}\r\n${s}\r\n`;
    const big = await raw(p.port, {
      host: "f.test",
      method: "POST",
      headers: { "transfer-encoding": "chunked" },
      body: [chunk("y".repeat(800)), chunk("y".repeat(800)), "0\r\n\r\n"],
    });
    assert.equal(big.status, 413);
    const ok = await raw(p.port, {
      host: "f.test",
      method: "POST",
      body: ["abc"],
    });
    assert.equal(ok.body, "len 3");
  } finally {
    await p.stop();
  }
});
