import assert from "node:assert/strict";
import {
  raw,
  spec,
  startBackend,
  startProxy,
  startRawUpstream,
} from "./_proxy_helpers.ts";
import { until } from "./isolates_helpers.ts";

for (const client of ["h1", "fetch"] as const) {
  Deno.test(`${client} client: large, chunked and empty bodies stream back intact`, async () => {
    const big = "0123456789abcdef".repeat(64 * 1024); // 1 MiB
    const p = await startProxy({ upstreamClient: client });
    const b = startBackend("b", (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/big") return new Response(big);
      if (path === "/empty") return new Response(null, { status: 204 });
      // a stream without length: chunked on the wire
      return new Response(
        new ReadableStream({
          start(c) {
            for (let i = 0; i < 5; i++) {
              c.enqueue(new TextEncoder().encode(`part${i};`));
            }
            c.close();
          },
        }),
      );
    });
    try {
      p.router.setService(spec("b", ["http://127.0.0.1/"]));
      p.router.addUpstream("b", { id: "b", url: b.url });
      const base = `http://127.0.0.1:${p.port}`;
      for (let round = 0; round < 3; round++) {
        assert.equal(await (await fetch(`${base}/big`)).text(), big);
        assert.equal(
          await (await fetch(`${base}/chunked`)).text(),
          "part0;part1;part2;part3;part4;",
        );
        const empty = await fetch(`${base}/empty`);
        assert.equal(empty.status, 204);
        await empty.body?.cancel();
      }
      assert.equal(p.router.pool("b")!.targets()[0]!.inflight, 0);
    } finally {
      await p.stop();
      await b.close();
    }
  });
}

Deno.test("h1 client passes the client's Host header upstream", async () => {
  const p = await startProxy({ upstreamClient: "h1" });
  const b = startBackend("b", (req) => new Response(req.headers.get("host")));
  try {
    p.router.setService(spec("b", ["http://app.test/"]));
    p.router.addUpstream("b", { id: "b", url: b.url });
    assert.equal((await raw(p.port, { host: "app.test" })).body, "app.test");
  } finally {
    await p.stop();
    await b.close();
  }
});

Deno.test("h1 client returns an early upstream answer without waiting for the body", async () => {
  const p = await startProxy({
    upstreamClient: "h1",
    proxy: { maxBody: 64 << 20 },
  });
  const b = startBackend("b", () => new Response("nope", { status: 401 }));
  try {
    p.router.setService(spec("b", ["http://app.test/"]));
    p.router.addUpstream("b", { id: "b", url: b.url });
    const chunk = "z".repeat(1 << 20);
    const r = await raw(p.port, {
      host: "app.test",
      method: "POST",
      body: [chunk, chunk, chunk, chunk],
    });
    assert.equal(r.status, 401);
    assert.equal(r.body, "nope");
    // the next request still works
    assert.equal((await raw(p.port, { host: "app.test" })).status, 401);
  } finally {
    await p.stop();
    await b.close();
  }
});

Deno.test("h1 client retries a GET when a pooled connection was closed by the upstream", async () => {
  // an upstream that answers keep-alive style, then drops the idle socket
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let accepted = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      accepted++;
      (async () => {
        const buf = new Uint8Array(4096);
        try {
          const n = await conn.read(buf);
          if (n === null) return;
          await conn.write(new TextEncoder().encode(
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
          ));
        } finally {
          conn.close();
        }
      })();
    }
  })();
  const p = await startProxy({ upstreamClient: "h1" });
  try {
    p.router.setService(spec("b", ["http://app.test/"]));
    p.router.addUpstream("b", {
      id: "b",
      url: `http://127.0.0.1:${listener.addr.port}`,
    });
    for (let i = 0; i < 4; i++) {
      const r = await raw(p.port, { host: "app.test" });
      assert.equal(r.status, 200);
      assert.equal(r.body, "ok");
    }
    assert.ok(accepted >= 4, "a new connection per request");
    assert.equal(p.router.pool("b")!.usable().length, 1, "not ejected");
  } finally {
    await p.stop();
    listener.close();
    await serving.catch(() => {});
  }
});

Deno.test("an upstream head the Response API refuses (a bad header name) gets 502 and frees the replica and its connection", async () => {
  const p = await startProxy({ upstreamClient: "h1" });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  let closed = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      void (async () => {
        const buf = new Uint8Array(4096);
        const n = await conn.read(buf);
        if (n === null) return;
        await conn.write(new TextEncoder().encode(
          "HTTP/1.1 200 OK\r\nbad name: x\r\ncontent-length: 200000\r\n\r\n" +
            "x".repeat(100),
        ));
        // the proxy must let go of this connection: read until it does
        while ((await conn.read(buf).catch(() => null)) !== null);
        closed++;
      })();
    }
  })();
  try {
    p.router.setService(spec("b", ["http://app.test/"]));
    const port = (listener.addr as Deno.NetAddr).port;
    p.router.addUpstream("b", { id: "b", url: `http://127.0.0.1:${port}` });
    for (const path of ["/a", "/b"]) {
      const r = await raw(p.port, { host: "app.test", path });
      assert.equal(r.status, 502, path);
    }
    assert.equal(p.router.pool("b")!.targets()[0]!.inflight, 0);
    const by = Date.now() + 3000;
    while (closed < 2 && Date.now() < by) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(closed, 2, "the upstream connections were closed");
  } finally {
    await p.stop();
    listener.close();
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await serving.catch(() => {});
  }
});

Deno.test("an upstream that answers and closes while a chunked body is still sent: its answer is passed on, the replica kept", async () => {
  const p = await startProxy({
    upstreamClient: "h1",
    proxy: { maxBody: 8 << 20 },
  });
  // busybox httpd's way with a POST it does not take: answer, close unread
  const up = startRawUpstream(async (_head, conn) => {
    await conn.write(new TextEncoder().encode(
      "HTTP/1.1 501 Not Implemented\r\nContent-Length: 4\r\n" +
        "Connection: close\r\n\r\nnope",
    ));
    conn.close();
  });
  try {
    p.router.setService(spec("b", ["http://app.test/"]));
    p.router.addUpstream("b", { id: "b", url: up.url });
    const chunk = "z".repeat(30 * 1024);
    const body = Array.from(
      { length: 30 },
      () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`,
    );
    for (let i = 0; i < 3; i++) {
      const r = await raw(p.port, {
        host: "app.test",
        method: "POST",
        path: "/cgi",
        headers: { "transfer-encoding": "chunked" },
        body: [...body, "0\r\n\r\n"],
      });
      assert.equal(r.status, 501, `POST ${i}`);
      assert.equal(r.body, "nope");
      assert.equal(p.router.pool("b")!.usable().length, 1, "not ejected");
      const get = await raw(p.port, { host: "app.test" });
      assert.equal(get.status, 501, `the GET after POST ${i} reached it`);
    }
  } finally {
    await p.stop();
    await up.close();
  }
});

Deno.test("a client that goes away mid-body does not eject the replica", async () => {
  const p = await startProxy({ upstreamClient: "h1" });
  const up = startRawUpstream(async (_head, conn) => {
    // read the body until the proxy gives up on it, then answer nothing
    const buf = new Uint8Array(16384);
    while ((await conn.read(buf).catch(() => null)) !== null);
    conn.close();
  });
  try {
    p.router.setService(spec("b", ["http://app.test/"]));
    p.router.addUpstream("b", { id: "b", url: up.url });
    for (let i = 0; i < 3; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port: p.port });
      await c.write(new TextEncoder().encode(
        "POST / HTTP/1.1\r\nhost: app.test\r\ntransfer-encoding: chunked\r\n" +
          "\r\n5\r\nhello\r\n",
      ));
      assert.ok(await until(() => up.accepted === i + 1), "it reached it");
      c.close();
      assert.ok(await until(() => up.closed === i + 1), "upstream let go");
    }
    assert.equal(p.router.pool("b")!.usable().length, 1, "not ejected");
  } finally {
    await p.stop();
    await up.close();
  }
});
