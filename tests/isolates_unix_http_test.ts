/**
 * The isolates' HTTP/1.1 client over Unix sockets (lib/isolates/unix_http.ts):
 * keep-alive connection reuse and the "not sent" error.
 */
import { assertEquals, assertRejects } from "./_assert.ts";
import { NotSentError, UnixHttpClient } from "../lib/isolates/unix_http.ts";

/** A raw Unix-socket HTTP server that counts the connections it accepts. */
function countingServer(path: string) {
  const listener = Deno.listen({ transport: "unix", path });
  let accepted = 0;
  const conns: Deno.Conn[] = [];
  const answer = new TextEncoder().encode(
    "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
  );
  const serving = (async () => {
    for await (const conn of listener) {
      accepted++;
      conns.push(conn);
      void (async () => {
        const buf = new Uint8Array(4096);
        let pending = "";
        try {
          for (;;) {
            const n = await conn.read(buf);
            if (n === null) break;
            pending += new TextDecoder().decode(buf.subarray(0, n));
            while (pending.includes("\r\n\r\n")) {
              pending = pending.slice(pending.indexOf("\r\n\r\n") + 4);
              await conn.write(answer);
            }
          }
        } catch { /* closed by the test */ }
      })();
    }
  })();
  return {
    get accepted() {
      return accepted;
    },
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await serving.catch(() => {});
    },
  };
}

Deno.test("unix http client: sequential requests reuse one connection", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-unixhttp-" });
  const server = countingServer(`${dir}/s.sock`);
  const client = new UnixHttpClient(`${dir}/s.sock`);
  try {
    for (let i = 0; i < 20; i++) {
      const res = await client.request("GET", `/n${i}`, new Headers(), null);
      assertEquals(await res.text(), "hello");
    }
    assertEquals(server.accepted, 1);
    // Concurrent requests open at most one connection each, kept after.
    await Promise.all(Array.from({ length: 4 }, async () => {
      const res = await client.request("GET", "/", new Headers(), null);
      assertEquals(res.status, 200);
      await res.text();
    }));
    const afterBurst = server.accepted;
    for (let i = 0; i < 10; i++) {
      await (await client.request("GET", "/", new Headers(), null)).text();
    }
    assertEquals(server.accepted, afterBurst);
  } finally {
    client.close();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unix http client: no listener is NotSentError", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-unixhttp-" });
  const client = new UnixHttpClient(`${dir}/missing.sock`);
  try {
    await assertRejects(
      () => client.request("GET", "/", new Headers(), null),
      NotSentError,
    );
  } finally {
    client.close();
    await Deno.remove(dir, { recursive: true });
  }
});
