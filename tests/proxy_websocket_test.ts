import assert from "node:assert/strict";
import { spec, startBackend, startProxy } from "./_proxy_helpers.ts";

Deno.test("WebSocket upgrades pass through both ways with the sub-protocol", async () => {
  const p = await startProxy();
  const ws = startBackend("ws", (req) => {
    if (req.headers.get("upgrade") !== "websocket") return new Response("no");
    const proto = req.headers.get("x-forwarded-proto");
    const { socket, response } = Deno.upgradeWebSocket(req, {
      protocol: "chat",
    });
    socket.onmessage = (e) => socket.send(`echo ${e.data} via ${proto}`);
    return response;
  });
  try {
    // fetch and WebSocket cannot set Host, so the route is for 127.0.0.1
    p.router.setService(spec("ws", ["http://127.0.0.1/"]));
    p.router.addUpstream("ws", { id: "w", url: ws.url });
    const client = new WebSocket(`ws://127.0.0.1:${p.port}/chat`, ["chat"]);
    const got = await new Promise<string>((resolve, reject) => {
      client.onopen = () => client.send("hi");
      client.onmessage = (e) => resolve(String(e.data));
      client.onerror = () => reject(new Error("websocket failed"));
    });
    assert.equal(got, "echo hi via http");
    assert.equal(client.protocol, "chat");
    const closed = new Promise<void>((r) => client.onclose = () => r());
    client.close();
    await closed;
    const pool = p.router.pool("ws")!;
    const t0 = Date.now();
    while (pool.targets()[0]!.inflight !== 0 && Date.now() - t0 < 2000) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(pool.targets()[0]!.inflight, 0, "connection counted out");
  } finally {
    await p.stop();
    await ws.close();
  }
});

Deno.test("a WebSocket reaches the upstream with the routed Host, and big and binary messages pass both ways", async () => {
  const p = await startProxy();
  const ws = startBackend("ws", (req) => {
    const host = req.headers.get("host");
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (e) =>
      socket.send(e.data === "host?" ? `host ${host}` : e.data);
    return response;
  });
  try {
    p.router.setService(spec("ws", ["http://127.0.0.1/"]));
    p.router.addUpstream("ws", { id: "w", url: ws.url });
    const client = new WebSocket(`ws://127.0.0.1:${p.port}/`);
    client.binaryType = "arraybuffer";
    const got: (string | ArrayBuffer)[] = [];
    let wake = () => {};
    client.onmessage = (e) => {
      got.push(e.data);
      wake();
    };
    const next = (n: number) =>
      new Promise<void>((r) => {
        wake = () => got.length >= n && r();
        wake();
      });
    await new Promise<void>((resolve, reject) => {
      client.onopen = () => resolve();
      client.onerror = () => reject(new Error("websocket failed"));
    });
    client.send("host?");
    await next(1);
    // the routed authority, not the replica's address
    assert.equal(got[0], `host 127.0.0.1:${p.port}`);
    const big = "x".repeat(200_000);
    client.send(big);
    client.send(new Uint8Array([1, 2, 3]));
    await next(3);
    assert.equal(got[1], big);
    assert.deepEqual([...new Uint8Array(got[2] as ArrayBuffer)], [1, 2, 3]);
    const closed = new Promise<CloseEvent>((r) => client.onclose = r);
    client.close(4001, "bye");
    assert.equal((await closed).code, 4001);
  } finally {
    await p.stop();
    await ws.close();
  }
});

Deno.test("a WebSocket to a refusing upstream gets 502", async () => {
  const p = await startProxy();
  const plain = startBackend("plain");
  try {
    p.router.setService(spec("ws", ["http://127.0.0.1/"]));
    p.router.addUpstream("ws", { id: "w", url: plain.url });
    const res = await fetch(`http://127.0.0.1:${p.port}/`, {
      headers: {
        upgrade: "websocket",
        connection: "upgrade",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
      },
    });
    await res.body?.cancel();
    assert.equal(res.status, 502);
  } finally {
    await p.stop();
    await plain.close();
  }
});
