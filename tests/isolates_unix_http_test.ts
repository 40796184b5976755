/**
 * The isolates' HTTP/1.1 client over Unix sockets (lib/isolates/unix_http.ts):
 * keep-alive connection reuse and the "not sent" error.
 */
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import {
  isolateHeaders,
  NotSentError,
  UnixHttpClient,
} from "../lib/isolates/unix_http.ts";

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

/**
 * A raw Unix-socket server: `answer(head, conn)` writes whatever bytes the
 * test wants once a request head (and its body, if chunked) has arrived.
 */
function rawServer(
  path: string,
  answer: (req: string, conn: Deno.Conn) => Promise<void>,
) {
  const listener = Deno.listen({ transport: "unix", path });
  const conns: Deno.Conn[] = [];
  let accepted = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      accepted++;
      conns.push(conn);
      void (async () => {
        const buf = new Uint8Array(65536);
        let pending = "";
        try {
          for (;;) {
            const n = await conn.read(buf);
            if (n === null) break;
            pending += new TextDecoder().decode(buf.subarray(0, n));
            const end = pending.indexOf("\r\n\r\n");
            if (end < 0) continue;
            const chunked = /transfer-encoding: chunked/i.test(
              pending.slice(0, end),
            );
            if (chunked && !pending.includes("\r\n0\r\n\r\n")) continue;
            const req = pending;
            pending = "";
            await answer(req, conn);
          }
        } catch { /* closed */ }
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

async function withServer(
  answer: (req: string, conn: Deno.Conn) => Promise<void>,
  test: (
    client: UnixHttpClient,
    server: ReturnType<typeof rawServer>,
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-unixhttp-" });
  const server = rawServer(`${dir}/s.sock`, answer);
  const client = new UnixHttpClient(`${dir}/s.sock`);
  try {
    await test(client, server);
  } finally {
    client.close();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const enc = new TextEncoder();

/** Rejects if `p` takes longer than `ms` (a hang fails the test). */
function within<T>(p: Promise<T>, ms = 3000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`hung for ${ms} ms`)), ms);
    }),
  ]);
}

/** How `p` ends within `ms`: "resolved", "rejected" or "hung". */
async function outcome(p: Promise<unknown>, ms = 3000): Promise<string> {
  try {
    await within(p, ms);
    return "resolved";
  } catch (err) {
    return /^hung for/.test((err as Error).message) ? "hung" : "rejected";
  }
}

Deno.test("unix http client: chunked answers stream whole, then the connection is reused", async () => {
  await withServer(async (_req, conn) => {
    await conn.write(enc.encode(
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-a: 1\r\n\r\n" +
        "5\r\nhello\r\n",
    ));
    await conn.write(enc.encode("6;ext=1\r\n world\r\n0\r\n\r\n"));
  }, async (client, server) => {
    for (let i = 0; i < 5; i++) {
      const res = await within(client.request("GET", "/", [], null));
      assertEquals(res.headers.get("x-a"), "1");
      assertEquals(res.headers.get("transfer-encoding"), null);
      assertEquals(await within(res.text()), "hello world");
    }
    assertEquals(server.accepted, 1);
  });
});

Deno.test("unix http client: a streamed request body arrives chunked and whole", async () => {
  let seen = "";
  await withServer(async (req, conn) => {
    seen = req;
    await conn.write(
      enc.encode("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
    );
  }, async (client) => {
    const body = ReadableStream.from([enc.encode("abc"), enc.encode("defg")]);
    const res = await within(
      client.request("POST", "/up", [["content-type", "text/plain"]], body),
    );
    assertEquals(await res.text(), "ok");
    assert(seen.startsWith("POST /up HTTP/1.1\r\n"), seen);
    assert(/transfer-encoding: chunked/.test(seen), seen);
    assert(seen.endsWith("\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"), seen);
    assert(/\r\nhost: isolate\r\n/.test(seen), "a Host is added");
  });
});

Deno.test("unix http client: an isolate closing mid-head rejects, mid-body errors the body (no hang)", async () => {
  await withServer(async (req, conn) => {
    if (req.startsWith("GET /head")) {
      await conn.write(enc.encode("HTTP/1.1 200 OK\r\ncontent-le"));
    } else {
      await conn.write(enc.encode(
        "HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n" + "x".repeat(10),
      ));
    }
    conn.close();
  }, async (client) => {
    assertEquals(
      await outcome(client.request("GET", "/head", [], null)),
      "rejected",
    );
    const res = await within(client.request("GET", "/body", [], null));
    assertEquals(res.status, 200);
    assertEquals(await outcome(res.text()), "rejected");
  });
});

Deno.test("unix http client: the signal ends a response still streaming (wall limit)", async () => {
  await withServer(async (_req, conn) => {
    // an endless chunked answer
    await conn.write(enc.encode(
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\na\r\n",
    ));
  }, async (client) => {
    const ac = new AbortController();
    const res = await within(
      client.request("GET", "/", [], null, ac.signal),
    );
    const reader = res.body!.getReader();
    assertEquals(new TextDecoder().decode((await reader.read()).value), "a");
    ac.abort(new Error("wall time limit"));
    assertEquals(await outcome(reader.read()), "rejected");
  });
});

Deno.test("unix http client: forward() sends the client's URL as target and X-Forwarded-* headers, no hop-by-hop either way", async () => {
  let seen = "";
  await withServer(async (req, conn) => {
    seen = req;
    await conn.write(
      enc.encode(
        "HTTP/1.1 204 No Content\r\nx-b: 2\r\nconnection: x-c\r\nx-c: 3\r\nkeep-alive: timeout=5\r\n\r\n",
      ),
    );
  }, async (client) => {
    const req = new Request("https://app.test/p/q?x=1&y=%20", {
      headers: {
        "connection": "close, x-drop",
        "x-drop": "1",
        "x-forwarded-for": "6.6.6.6",
        "x-user": "u",
      },
    });
    const headers = isolateHeaders(req, {
      clientIp: "192.0.2.7",
      requestId: "rid-1",
    });
    const { res, complete } = await within(client.forward(req, headers));
    assertEquals(res.status, 204);
    assert(complete, "no body is done with the head");
    assertEquals(res.headers.get("x-b"), "2");
    assertEquals(res.headers.get("x-c"), null, "named in Connection");
    assertEquals(res.headers.get("keep-alive"), null);
    assert(
      seen.startsWith("GET https://app.test/p/q?x=1&y=%20 HTTP/1.1\r\n"),
      seen,
    );
    assert(!/connection:|x-drop/i.test(seen), seen);
    // the client's address goes last: the isolate's info.remoteAddr
    assert(seen.includes("x-forwarded-for: 6.6.6.6, 192.0.2.7\r\n"), seen);
    assert(seen.includes("x-forwarded-proto: https\r\n"), seen);
    assert(seen.includes("x-forwarded-host: app.test\r\n"), seen);
    assert(seen.includes("x-request-id: rid-1\r\n"), seen);
    assert(seen.includes("host: app.test\r\n"), seen);
    assert(seen.includes("x-user: u\r\n"), seen);
  });
});

Deno.test("unix http client: forward() leaves a whole body's length and Date to the daemon's server; a body still streaming is not complete, with a length or chunked", async () => {
  await withServer(async (req, conn) => {
    if (req.startsWith("GET http://a.test/whole")) {
      await conn.write(enc.encode(
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ndate: Thu, 01 Jan 1970 00:00:00 GMT\r\nx-a: 1\r\n\r\nhello",
      ));
    } else if (req.startsWith("GET http://a.test/long")) {
      await conn.write(
        enc.encode("HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nab"),
      );
      await new Promise((r) => setTimeout(r, 100));
      await conn.write(enc.encode("cd"));
    } else {
      await conn.write(enc.encode(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
      ));
    }
  }, async (client) => {
    const get = (url: string) => {
      const req = new Request(url);
      return within(
        client.forward(req, isolateHeaders(req, { clientIp: "127.0.0.1" })),
      );
    };
    const a = await get("http://a.test/whole");
    assert(a.complete);
    assertEquals([...a.res.headers], [["x-a", "1"]]);
    assertEquals(await a.res.text(), "hello");
    const b = await get("http://a.test/long");
    assert(!b.complete, "a body still arriving keeps its isolate busy");
    assertEquals(b.res.headers.get("content-length"), "4");
    assertEquals(await b.res.text(), "abcd");
    const c = await get("http://a.test/chunked");
    assert(!c.complete, "a stream keeps its isolate busy until it ends");
    assertEquals(await c.res.text(), "hi");
  });
});

Deno.test("unix http client: an answer the Response API refuses becomes a 502, not a hang or a leaked connection", async () => {
  await withServer(async (_req, conn) => {
    await conn.write(enc.encode(
      "HTTP/1.1 200 OK\r\nbad name: x\r\ncontent-length: 100000\r\n\r\n" +
        "x".repeat(10),
    ));
  }, async (client) => {
    const req = new Request("http://a.test/");
    const a = await within(
      client.forward(req, isolateHeaders(req, { clientIp: "127.0.0.1" })),
    );
    assertEquals(a.res.status, 502);
    assert(a.complete);
    await a.res.body?.cancel();
  });
});
