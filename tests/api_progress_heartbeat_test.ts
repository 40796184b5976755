/**
 * The progress stream's heartbeat (issue 11.10) through the proxy's real
 * connection guard: a silent step longer than keepalive_timeout no longer
 * gets the stream cut.
 */
import { progressResponse } from "../lib/api/progress_stream.ts";
import { assert, assertEquals } from "./_push_assert.ts";
import { specUrl, startProxy } from "./_proxy_helpers.ts";

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
          { heartbeatMs: keepaliveTimeout / 3 },
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
