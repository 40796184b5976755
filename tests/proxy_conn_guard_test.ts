import assert from "node:assert/strict";
import { spec, startBackend, startProxy } from "./_proxy_helpers.ts";
import { parseSs } from "../lib/proxy/conn_guard.ts";
import { createSelfSigned } from "../lib/acme/self_signed.ts";
import type { CertSource } from "../lib/proxy/tls_server.ts";

const enc = new TextEncoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Reads from `conn` until it is closed by the other side; returns the time
 * that took and what was read, or `open` when `withinMs` passed first.
 */
async function waitClosed(
  conn: Deno.Conn,
  withinMs: number,
): Promise<{ closed: boolean; ms: number; text: string }> {
  const t0 = Date.now();
  const buf = new Uint8Array(4096);
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"open">((r) =>
    timer = setTimeout(() => r("open"), withinMs)
  );
  try {
    for (;;) {
      const n = await Promise.race([
        conn.read(buf).catch(() => null),
        timeout,
      ]);
      if (n === "open") return { closed: false, ms: Date.now() - t0, text };
      if (n === null) return { closed: true, ms: Date.now() - t0, text };
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
  }
}

async function withProxy(
  proxy: { headerTimeout: number; keepaliveTimeout: number },
  fn: (port: number, p: Awaited<ReturnType<typeof startProxy>>) => Promise<
    void
  >,
  handler?: (req: Request) => Response | Promise<Response>,
  certs?: CertSource,
) {
  const p = await startProxy({ proxy, ...(certs ? { certs } : {}) });
  const b = startBackend("b", handler);
  try {
    p.router.setService(
      spec("svc", ["http://s.test/", "https://t.test/", "http://127.0.0.1/"]),
    );
    p.router.addUpstream("svc", { id: "b", url: b.url });
    await fn(p.port, p);
  } finally {
    await p.stop();
    await b.close();
  }
}

async function get(conn: Deno.Conn, path = "/"): Promise<string> {
  await conn.write(
    enc.encode(`GET ${path} HTTP/1.1\r\nhost: s.test\r\n\r\n`),
  );
  const buf = new Uint8Array(4096);
  const n = await conn.read(buf);
  return new TextDecoder().decode(buf.subarray(0, n ?? 0));
}

Deno.test("parseSs reads ss -tinHO lines, IPv4, IPv6 and mapped", () => {
  const text = [
    "0      0      127.0.0.1:8080 127.0.0.1:37378 bbr wscale:10,10 bytes_sent:117 lastsnd:1832 lastrcv:1832 lastack:1832 pacing_rate 1bps",
    "0      0      [::1]:8443 [::1]:50000 cubic rto:204 lastrcv:12",
    "0      0      [::ffff:127.0.0.1]:8080 [::ffff:10.0.0.2]:4000 cubic lastsnd:7 lastrcv:8",
    "",
  ].join("\n");
  const conns = parseSs(text);
  assert.equal(conns.length, 3);
  assert.deepEqual(conns[0], {
    localPort: 8080,
    peer: "127.0.0.1:37378",
    key: "8080/127.0.0.1:37378",
    lastSendMs: 1832,
  });
  assert.equal(conns[1]!.key, "8443/::1:50000");
  assert.equal(conns[1]!.peer, "[::1]:50000");
  assert.equal(conns[1]!.lastSendMs, 0, "ss omits lastsnd:0");
  assert.equal(conns[2]!.key, "8080/10.0.0.2:4000");
});

Deno.test("a client dribbling its request head is closed after headerTimeout; others are served", async () => {
  await withProxy(
    { headerTimeout: 600, keepaliveTimeout: 10_000 },
    async (port, p) => {
      const slow = await Deno.connect({ hostname: "127.0.0.1", port });
      const silent = await Deno.connect({ hostname: "127.0.0.1", port });
      let dribbling = true;
      const dribble = (async () => {
        await slow.write(enc.encode("GET / HTTP/1.1\r\nhost: s.test\r\n"));
        for (let i = 0; dribbling && i < 100; i++) {
          await sleep(100);
          await slow.write(enc.encode(`x-pad-${i}: 1\r\n`)).catch(() => {
            dribbling = false;
          });
        }
      })();
      // a well-behaved client keeps being served meanwhile
      const good = await Deno.connect({ hostname: "127.0.0.1", port });
      assert.match(await get(good), /^HTTP\/1.1 200/);
      const [a, b] = await Promise.all([
        waitClosed(slow, 5000),
        waitClosed(silent, 5000),
      ]);
      dribbling = false;
      await dribble;
      assert.ok(a.closed, "the dribbling client was closed");
      assert.ok(b.closed, "the silent client was closed");
      assert.equal(a.text, "", "no answer, just closed");
      assert.ok(a.ms >= 400, `closed after ${a.ms} ms, not at once`);
      assert.ok(p.server.guard.closed.header >= 2);
      assert.match(await get(good), /^HTTP\/1.1 200/, "good one still open");
      for (const c of [slow, silent, good]) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  );
});

Deno.test("idle keep-alive connections close after keepaliveTimeout; slow answers and streams do not", async () => {
  await withProxy(
    // margins for a loaded CI host: ticks every 100 ms vs a 1.5 s timeout
    { headerTimeout: 400, keepaliveTimeout: 1500 },
    async (port, p) => {
      const idle = await Deno.connect({ hostname: "127.0.0.1", port });
      assert.match(await get(idle), /^HTTP\/1.1 200/);
      const slowAnswer = await Deno.connect({ hostname: "127.0.0.1", port });
      const stream = await Deno.connect({ hostname: "127.0.0.1", port });
      const [i, s, st] = await Promise.all([
        waitClosed(idle, 6000),
        (async () => {
          await slowAnswer.write(enc.encode(
            "GET /slow HTTP/1.1\r\nhost: s.test\r\nconnection: close\r\n\r\n",
          ));
          return await waitClosed(slowAnswer, 8000);
        })(),
        (async () => {
          await stream.write(enc.encode(
            "GET /stream HTTP/1.1\r\nhost: s.test\r\nconnection: close\r\n\r\n",
          ));
          return await waitClosed(stream, 8000);
        })(),
      ]);
      assert.ok(i.closed, "idle keep-alive closed");
      assert.ok(i.ms >= 1200, `idle closed after ${i.ms} ms`);
      assert.match(s.text, /200 OK[\s\S]*slow done/, "slow answer delivered");
      assert.match(st.text, /tick 0[\s\S]*tick 24\n/, "whole stream delivered");
      assert.ok(p.server.guard.closed.keepalive >= 1);
    },
    (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/slow") {
        return sleep(2500).then(() => new Response("slow done"));
      }
      if (path === "/stream") {
        let n = 0;
        return new Response(
          new ReadableStream({
            async pull(c) {
              await sleep(100);
              c.enqueue(enc.encode(`tick ${n}\n`));
              if (++n === 25) c.close();
            },
          }),
          { headers: { "content-type": "text/plain" } },
        );
      }
      return new Response("ok");
    },
  );
});

Deno.test("an upgraded (WebSocket) connection outlives keepaliveTimeout", async () => {
  await withProxy(
    { headerTimeout: 300, keepaliveTimeout: 300 },
    async (port) => {
      const client = new WebSocket(`ws://127.0.0.1:${port}/`);
      const messages: string[] = [];
      let wake = () => {};
      client.onmessage = (e) => {
        messages.push(String(e.data));
        wake();
      };
      let closed = false;
      client.onclose = () => closed = true;
      await new Promise<void>((resolve, reject) => {
        client.onopen = () => resolve();
        client.onerror = () => reject(new Error("websocket failed"));
      });
      const next = () => new Promise<void>((r) => wake = r);
      let got = next();
      client.send("one");
      await got;
      await sleep(1500);
      assert.equal(closed, false, "still open after 5x keepaliveTimeout");
      got = next();
      client.send("two");
      await got;
      assert.deepEqual(messages, ["echo one", "echo two"]);
      const done = new Promise<void>((r) => client.onclose = () => r());
      client.close();
      await done;
    },
    (req) => {
      if (req.headers.get("upgrade") !== "websocket") return new Response("x");
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onmessage = (e) => socket.send(`echo ${e.data}`);
      return response;
    },
  );
});

Deno.test("a TLS client that never finishes its handshake is closed after headerTimeout", async () => {
  const pair = await createSelfSigned(["t.test"]);
  const cert = { cert: pair.cert, key: pair.key };
  const certs: CertSource = {
    get: () => cert,
    defaultCert: () => cert,
    onChange: () => () => {},
  };
  await withProxy(
    { headerTimeout: 500, keepaliveTimeout: 10_000 },
    async (_port, p) => {
      const port = p.httpsPort!;
      const stalled = await Deno.connect({ hostname: "127.0.0.1", port });
      // connected, but no ClientHello ever comes
      const r = await waitClosed(stalled, 5000);
      assert.ok(r.closed, "stalled TLS handshake closed");
      assert.ok(r.ms >= 300, `after ${r.ms} ms`);
      // a real TLS client still gets through
      const dir = await Deno.makeTempDir();
      await Deno.writeTextFile(`${dir}/ca.pem`, pair.cert);
      const out = await new Deno.Command("curl", {
        args: [
          "-sS",
          "--max-time",
          "5",
          "--cacert",
          `${dir}/ca.pem`,
          "--resolve",
          `t.test:${port}:127.0.0.1`,
          `https://t.test:${port}/`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      await Deno.remove(dir, { recursive: true });
      assert.equal(new TextDecoder().decode(out.stdout), "b");
      try {
        stalled.close();
      } catch { /* closed */ }
    },
    undefined,
    certs,
  );
});

Deno.test("without a working ss the guard switches itself off and the proxy keeps serving", async () => {
  const { ProxyServer } = await import("../lib/proxy/proxy_server.ts");
  const { Router } = await import("../lib/proxy/router.ts");
  const { testConfig } = await import("./_proxy_helpers.ts");
  const warnings: string[] = [];
  const log = {
    debug() {},
    info() {},
    warn: (m: string) => warnings.push(m),
    error() {},
  };
  const router = new Router();
  const server = new ProxyServer({
    router,
    config: testConfig({ headerTimeout: 200, keepaliveTimeout: 200 }),
    listen: { http: 0, https: false },
    log: log as never,
    ss: () => Promise.reject(new Error("ss: command not found")),
  });
  await server.start();
  try {
    await server.guard.sweep();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /connection guard off: .*ss: command not found/);
    const res = await fetch(`http://127.0.0.1:${server.httpAddr!.port}/`);
    await res.body?.cancel();
    assert.equal(res.status, 404, "no route, but served");
    assert.deepEqual(await server.guard.sweep(), [], "stays off");
  } finally {
    await server.stop();
    router.stop();
  }
});
