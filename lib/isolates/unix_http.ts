/**
 * @module
 * A minimal HTTP/1.1 keep-alive client over a Unix socket (Deno.connect).
 * Deno 2.9.6's `fetch` with `createHttpClient({ proxy: { transport: "unix" }
 * })` parks one blocking-pool thread per connection, pooled ones included:
 * past ~32 connections every async file operation of the daemon hangs
 * (measured). Deno.connect's Unix streams are truly async. Bodies stream
 * both ways (chunked requests; content-length, chunked or close-delimited
 * responses).
 */

const enc = new TextEncoder();
const dec = new TextDecoder();
const MAX_HEAD = 64 * 1024;
const MAX_IDLE = 64;

/** One socket connection with a read buffer. */
class Conn {
  buf = new Uint8Array(0);
  closed = false;
  constructor(readonly sock: Deno.UnixConn) {}

  /** Reads more bytes into `buf`; false at EOF. */
  async fill(): Promise<boolean> {
    const chunk = new Uint8Array(16384);
    const n = await this.sock.read(chunk);
    if (n === null) return false;
    if (this.buf.length === 0) {
      // The common case (a whole answer in one read): no copy.
      this.buf = chunk.subarray(0, n);
      return true;
    }
    const next = new Uint8Array(this.buf.length + n);
    next.set(this.buf);
    next.set(chunk.subarray(0, n), this.buf.length);
    this.buf = next;
    return true;
  }

  take(n: number): Uint8Array<ArrayBuffer> {
    const out = this.buf.slice(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  async line(): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf(10);
      if (i >= 0) return dec.decode(this.take(i + 1)).trimEnd();
      if (this.buf.length > MAX_HEAD) throw new Error("line too long");
      if (!await this.fill()) throw new Error("connection closed mid-line");
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.sock.close();
    } catch { /* closed */ }
  }
}

/**
 * The request was not sent: the socket refused the connection or the write
 * (the isolate was already gone). Safe to send elsewhere; a request that
 * was sent is never retried (it may be what killed the isolate).
 */
export class NotSentError extends Error {
  override name = "NotSentError";
}

/** HTTP/1.1 over one Unix socket path, with idle connections kept. */
export class UnixHttpClient {
  readonly #idle: Conn[] = [];
  #closed = false;

  constructor(readonly path: string) {}

  /** Sends a request; `target` is the path and query. */
  async request(
    method: string,
    target: string,
    headers: Headers,
    body: ReadableStream<Uint8Array> | null,
    signal?: AbortSignal,
  ): Promise<Response> {
    let conn = this.#idle.pop();
    if (!conn) {
      try {
        conn = new Conn(
          await Deno.connect({ transport: "unix", path: this.path }),
        );
      } catch (err) {
        throw new NotSentError(`cannot connect to ${this.path}`, {
          cause: err,
        });
      }
    }
    return await this.#exchange(conn, method, target, headers, body, signal);
  }

  /** Closes idle connections; requests in flight finish. */
  close(): void {
    this.#closed = true;
    for (const c of this.#idle.splice(0)) c.close();
  }

  #release(conn: Conn): void {
    if (this.#closed || conn.closed || this.#idle.length >= MAX_IDLE) {
      conn.close();
    } else this.#idle.push(conn);
  }

  async #exchange(
    conn: Conn,
    method: string,
    target: string,
    headers: Headers,
    body: ReadableStream<Uint8Array> | null,
    signal?: AbortSignal,
  ): Promise<Response> {
    const onAbort = () => conn.close();
    if (signal?.aborted) throw signal.reason;
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      let head = `${method} ${target} HTTP/1.1\r\n`;
      for (const [k, v] of headers) {
        if (
          k !== "content-length" && k !== "transfer-encoding" &&
          k !== "connection"
        ) head += `${k}: ${v}\r\n`;
      }
      if (!headers.has("host")) head += "host: isolate\r\n";
      if (body) head += "transfer-encoding: chunked\r\n";
      else if (method !== "GET" && method !== "HEAD") {
        head += "content-length: 0\r\n";
      }
      try {
        await writeAll(conn.sock, enc.encode(head + "\r\n"));
      } catch (err) {
        throw new NotSentError("the isolate's socket is closed", {
          cause: err,
        });
      }
      // Errors are read after the head (a rejection is never left unread).
      const sending = body
        ? sendChunked(conn.sock, body).then(() => null, (e: unknown) => e)
        : null;
      let status: number;
      try {
        status = Number((await conn.line()).split(" ")[1]);
      } catch (err) {
        throw new Error("the isolate closed the connection without an answer", {
          cause: err,
        });
      }
      const res = new Headers();
      for (;;) {
        const line = await conn.line();
        if (line === "") break;
        const c = line.indexOf(":");
        if (c > 0) {
          res.append(line.slice(0, c).trim(), line.slice(c + 1).trim());
        }
      }
      const sendError = await sending;
      if (sendError) throw sendError;
      const keep = res.get("connection")?.toLowerCase() !== "close";
      const finish = () => {
        signal?.removeEventListener("abort", onAbort);
        if (keep) this.#release(conn);
        else conn.close();
      };
      if (
        method === "HEAD" || status === 204 || status === 304 || status < 200
      ) {
        finish();
        return new Response(null, { status, headers: res });
      }
      const length = res.get("content-length");
      if (length !== null) {
        const n = Number(length);
        if (conn.buf.length >= n) {
          const bytes = conn.take(n);
          finish();
          return new Response(bytes, { status, headers: res });
        }
        return new Response(lengthBody(conn, n, finish), {
          status,
          headers: res,
        });
      }
      if (res.get("transfer-encoding")?.toLowerCase().includes("chunked")) {
        res.delete("transfer-encoding");
        return new Response(chunkedBody(conn, finish), {
          status,
          headers: res,
        });
      }
      return new Response(untilClose(conn, signal, onAbort), {
        status,
        headers: res,
      });
    } catch (err) {
      signal?.removeEventListener("abort", onAbort);
      conn.close();
      throw signal?.aborted ? signal.reason : err;
    }
  }
}

async function writeAll(sock: Deno.UnixConn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await sock.write(data.subarray(off));
}

async function sendChunked(
  sock: Deno.UnixConn,
  body: ReadableStream<Uint8Array>,
): Promise<void> {
  for await (const chunk of body) {
    if (chunk.length === 0) continue;
    await writeAll(sock, enc.encode(`${chunk.length.toString(16)}\r\n`));
    await writeAll(sock, chunk);
    await writeAll(sock, enc.encode("\r\n"));
  }
  await writeAll(sock, enc.encode("0\r\n\r\n"));
}

function lengthBody(conn: Conn, n: number, finish: () => void) {
  let left = n;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      if (conn.buf.length === 0 && !await conn.fill()) {
        conn.close();
        return c.error(new Error("connection closed mid-body"));
      }
      const chunk = conn.take(Math.min(left, conn.buf.length));
      left -= chunk.length;
      c.enqueue(chunk);
      if (left === 0) {
        c.close();
        finish();
      }
    },
    cancel: () => conn.close(),
  });
}

function chunkedBody(conn: Conn, finish: () => void) {
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      try {
        const size = parseInt((await conn.line()).split(";")[0]!, 16);
        if (size === 0) {
          while ((await conn.line()) !== "");
          c.close();
          return finish();
        }
        while (conn.buf.length < size + 2) {
          if (!await conn.fill()) {
            throw new Error("connection closed mid-chunk");
          }
        }
        c.enqueue(conn.take(size));
        conn.take(2);
      } catch (err) {
        conn.close();
        c.error(err);
      }
    },
    cancel: () => conn.close(),
  });
}

function untilClose(
  conn: Conn,
  signal: AbortSignal | undefined,
  onAbort: () => void,
) {
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      if (conn.buf.length === 0 && !await conn.fill()) {
        signal?.removeEventListener("abort", onAbort);
        conn.close();
        return c.close();
      }
      c.enqueue(conn.take(conn.buf.length));
    },
    cancel: () => conn.close(),
  });
}
