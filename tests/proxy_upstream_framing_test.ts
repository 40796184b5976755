/**
 * Upstream answers with malformed or unusual framing, sent by a raw-socket
 * upstream: what the proxy passes on, and that a connection whose framing
 * it cannot trust is closed, not reused.
 */
import assert from "node:assert/strict";
import {
  raw,
  spec,
  startProxy,
  startRawUpstream,
  type TestProxy,
} from "./_proxy_helpers.ts";
import { until } from "./isolates_helpers.ts";

const enc = new TextEncoder();

async function withUpstream(
  answer: string,
  run: (p: TestProxy, up: ReturnType<typeof startRawUpstream>) => Promise<void>,
  opts: { thenClose?: boolean } = {},
): Promise<void> {
  const p = await startProxy({ upstreamClient: "h1" });
  const up = startRawUpstream(async (_head, conn) => {
    await conn.write(enc.encode(answer));
    if (opts.thenClose) conn.close();
  });
  try {
    p.router.setService(spec("b", ["http://app.test/"]));
    p.router.addUpstream("b", { id: "b", url: up.url });
    await run(p, up);
  } finally {
    await p.stop();
    await up.close();
  }
}

const MALFORMED: Record<string, string> = {
  "a negative Content-Length": "Content-Length: -1\r\n",
  "a Content-Length that is no number": "Content-Length: abc\r\n",
  "a Content-Length with a sign": "Content-Length: +2\r\n",
  "two different Content-Lengths": "Content-Length: 2\r\nContent-Length: 3\r\n",
  "a Content-Length list that disagrees": "Content-Length: 2, 3\r\n",
  "Content-Length beside Transfer-Encoding":
    "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
  "a Transfer-Encoding other than chunked": "Transfer-Encoding: gzip\r\n",
  "a space before the colon": "Content-Length : 2\r\n",
  "a folded header line": "X-A: 1\r\n  folded\r\nContent-Length: 2\r\n",
  "a header line without colon": "nonsense\r\nContent-Length: 2\r\n",
};

for (const [what, lines] of Object.entries(MALFORMED)) {
  Deno.test(`an upstream head with ${what} gets 502 and its connection closed, the replica kept`, async () => {
    await withUpstream(
      `HTTP/1.1 200 OK\r\n${lines}\r\nok`,
      async (p, up) => {
        for (let i = 0; i < 2; i++) {
          assert.equal((await raw(p.port, { host: "app.test" })).status, 502);
        }
        assert.ok(await until(() => up.closed === up.accepted));
        assert.equal(up.accepted, 2, "no connection reused");
        assert.equal(p.router.pool("b")!.usable().length, 1, "not ejected");
      },
    );
  });
}

Deno.test("a malformed status line gets 502", async () => {
  await withUpstream(
    "HTTP/1.1 2000 OK\r\ncontent-length: 2\r\n\r\nok",
    async (p) => {
      assert.equal((await raw(p.port, { host: "app.test" })).status, 502);
    },
  );
});

Deno.test("repeated equal Content-Lengths are one length; the connection is reused", async () => {
  await withUpstream(
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\n\r\nok",
    async (p, up) => {
      for (let i = 0; i < 3; i++) {
        const r = await raw(p.port, { host: "app.test" });
        assert.equal(r.status, 200);
        assert.equal(r.body, "ok");
        assert.equal(r.headers.get("content-length"), "2");
      }
      assert.equal(up.accepted, 1, "one kept connection");
    },
  );
});

for (const status of ["204 No Content", "304 Not Modified"]) {
  Deno.test(`a ${status} without Content-Length ends at its head and its connection is reused`, async () => {
    // the upstream never closes: an answer read to the close would hang
    await withUpstream(
      `HTTP/1.1 ${status}\r\nX-A: 1\r\n\r\n`,
      async (p, up) => {
        for (let i = 0; i < 3; i++) {
          const r = await raw(p.port, { host: "app.test" });
          assert.equal(r.status, Number(status.slice(0, 3)));
          assert.equal(r.body, "");
          assert.equal(r.headers.get("x-a"), "1");
        }
        assert.equal(up.accepted, 1, "one kept connection");
        assert.equal(up.closed, 0, "the connection stayed open");
      },
    );
  });
}

Deno.test("a HEAD answer without Content-Length ends at its head and its connection is reused", async () => {
  await withUpstream("HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\n", async (p, up) => {
    for (let i = 0; i < 3; i++) {
      const r = await raw(p.port, { host: "app.test", method: "HEAD" });
      assert.equal(r.status, 200);
    }
    assert.equal(up.accepted, 1, "one kept connection");
  });
});

Deno.test("a head with bare LF line ends (a CGI printing with echo) is accepted as nginx does", async () => {
  // busybox httpd writes its own status line, then the CGI's output as is
  await withUpstream(
    "HTTP/1.1 200 OK\r\nContent-type: text/plain\nX-From: cgi\n\nhello from cgi",
    async (p) => {
      const r = await raw(p.port, { host: "app.test" });
      assert.equal(r.status, 200);
      assert.equal(r.body, "hello from cgi");
      assert.equal(r.headers.get("x-from"), "cgi");
    },
    { thenClose: true },
  );
  await withUpstream(
    "HTTP/1.1 200 OK\ncontent-length: 2\ntransfer-encoding: chunked\n\n",
    async (p) => {
      // LF heads are framed as strictly as CRLF ones
      assert.equal((await raw(p.port, { host: "app.test" })).status, 502);
    },
  );
  await withUpstream(
    "HTTP/1.1 200 OK\ntransfer-encoding: chunked\n\n5\nhello\n0\n\n",
    async (p, up) => {
      for (let i = 0; i < 2; i++) {
        const r = await raw(p.port, { host: "app.test" });
        assert.equal(r.body, "hello");
      }
      assert.equal(up.accepted, 1, "the LF-framed connection was reused");
    },
  );
});

for (
  const [what, body] of [
    ["a chunk size with 0x", "0x5\r\nhello\r\n0\r\n\r\n"],
    ["a negative chunk size", "-5\r\nhello\r\n0\r\n\r\n"],
    ["a chunk size with junk after it", "5z\r\nhello\r\n0\r\n\r\n"],
    ["a chunk not followed by CRLF", "5\r\nhelloXX\r\n0\r\n\r\n"],
  ] as const
) {
  Deno.test(`a chunked body with ${what} is cut off and its connection closed`, async () => {
    await withUpstream(
      `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n${body}`,
      async (p, up) => {
        const r = await raw(p.port, { host: "app.test" });
        assert.equal(r.status, 200);
        assert.ok(
          !r.wire.endsWith("0\r\n\r\n"),
          `the client sees the body cut off: ${JSON.stringify(r.wire)}`,
        );
        assert.ok(!r.wire.includes("hello"), r.wire);
        assert.ok(await until(() => up.closed === 1));
        assert.equal(p.router.pool("b")!.usable().length, 1, "not ejected");
      },
    );
  });
}
