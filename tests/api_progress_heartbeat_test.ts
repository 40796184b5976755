/**
 * The progress stream's heartbeat (issue 11.10): a silent step longer than
 * the connection guard's keepalive_timeout no longer gets the stream cut,
 * heartbeats are skipped by the client, and a cut stream is "unknown".
 */
import { readStream } from "../lib/api/client.ts";
import {
  heartbeatFor,
  isHeartbeat,
  progressResponse,
} from "../lib/api/progress_stream.ts";
import { assert, assertEquals } from "./_push_assert.ts";
import { FakeClock } from "./_fake_clock.ts";
import { specUrl, startProxy } from "./_proxy_helpers.ts";

Deno.test("heartbeatFor: a third of keepalive_timeout, 50 ms to 20 s", () => {
  assertEquals(heartbeatFor(75_000), 20_000);
  assertEquals(heartbeatFor(900), 300);
  assertEquals(heartbeatFor(10), 50);
});

Deno.test("a silent operation sends heartbeats on its clock; the client skips them", async () => {
  const clock = new FakeClock();
  let finish!: () => void;
  const gate = new Promise<void>((r) => finish = r);
  const res = progressResponse(
    "deploy",
    async (progress) => {
      progress("Step 2/2 : RUN sleep 80");
      await gate;
      return { ok: true, release: 4 };
    },
    () => {},
    { heartbeatMs: 1000, clock },
  );
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  const read = async () => dec.decode((await reader.read()).value);
  assertEquals(await read(), "Step 2/2 : RUN sleep 80\n");
  clock.advance(999);
  clock.advance(1);
  const beat = await read();
  assert(isHeartbeat(beat), beat);
  clock.advance(1000);
  assert(isHeartbeat(await read()));
  finish();
  assertEquals(await read(), "mypaas: deploy ok release 4\n");
  assert((await reader.read()).done);
});

Deno.test("readStream skips heartbeats and calls a cut stream unknown", async () => {
  const seen: string[] = [];
  const ok = await readStream(
    new Response("a\nmypaas: working (20s)\nmypaas: deploy ok release 2\n"),
    (l) => seen.push(l),
  );
  assertEquals(seen, ["a"]);
  assertEquals(ok.status, "ok");
  const cut = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode("Step 1\n"));
      c.error(new Error("error reading a body from connection"));
    },
  });
  const r = await readStream(new Response(cut), () => {});
  assertEquals(r.status, "missing");
  assert(r.detail.includes("stream was cut"), r.detail);
});

Deno.test("through the proxy's connection guard: a stream silent for 3x keepalive_timeout is not cut", async () => {
  const keepaliveTimeout = 400;
  const p = await startProxy({
    proxy: { headerTimeout: 5000, keepaliveTimeout },
  });
  let closes = 0;
  try {
    p.router.setHandler(
      "fn",
      [specUrl("http://s.test/")],
      () =>
        Promise.resolve(progressResponse(
          "deploy",
          async (progress) => {
            progress("Step 2/2 : RUN sleep 80");
            // silent for three keepalive timeouts: the guard sweeps meanwhile
            await new Promise((r) => setTimeout(r, 3 * keepaliveTimeout));
            return { ok: true, release: 1 };
          },
          () => {},
          { heartbeatMs: heartbeatFor(keepaliveTimeout) },
        )),
    );
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: p.port });
    await conn.write(
      new TextEncoder().encode(
        "GET / HTTP/1.1\r\nhost: s.test\r\nconnection: close\r\n\r\n",
      ),
    );
    let text = "";
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf).catch(() => {
        closes++;
        return null;
      });
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    conn.close();
    assert(text.includes("mypaas: deploy ok release 1"), text);
    assertEquals(closes, 0);
    assertEquals(p.server.guard.closed.keepalive, 0);
  } finally {
    await p.stop();
  }
});
