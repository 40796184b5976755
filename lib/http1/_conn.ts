/**
 * @module
 * The connection side of `client.ts`: a TCP or Unix connection with a
 * read buffer, response head parsing and body framing (length, chunked,
 * close). Framing is strict where a lenient reading could disagree with the
 * upstream about where the answer ends (Content-Length digits only and one
 * value, Transfer-Encoding only "chunked" and never with a Content-Length,
 * header names tokens, strict chunk sizes): such an answer is a
 * `FramingError`, and its connection is not reused. Lines may end in a bare
 * LF, as nginx accepts (a CGI printing its head with `echo`).
 */

/** An upstream's answer is not well-formed HTTP/1.1; `message` says how. */
export class FramingError extends Error {
  override name = "FramingError";
}

/** The longest response head or chunk/trailer line read (bytes). */
const MAX_HEAD = 64 * 1024;

/** A parsed response head. */
export interface Parsed {
  status: number;
  /**
   * Name/value pairs in arrival order, names lower-cased, minus
   * transfer-encoding. Not a Headers: its validation runs once, when the
   * pairs go into the Response the proxy sends on.
   */
  headers: [string, string][];
  length?: number;
  chunked: boolean;
  /** The upstream asked to close (HTTP/1.0 or `Connection: close`). */
  close: boolean;
}

/** A TCP or Unix socket connection with a read buffer. */
export class Conn {
  #buf: Uint8Array<ArrayBuffer> = new Uint8Array(16 * 1024);
  #start = 0;
  #end = 0;
  #closed = false;
  /** Bytes arrived since the current exchange began. */
  gotAny = false;
  /** When the connection went back to the pool (ms since epoch). */
  idleSince = 0;

  constructor(readonly tcp: Deno.Conn) {}

  async write(data: Uint8Array): Promise<void> {
    let off = 0;
    while (off < data.byteLength) {
      off += await this.tcp.write(data.subarray(off));
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.tcp.close();
    } catch { /* already closed */ }
  }

  /** Reads more bytes into the buffer; false at EOF. */
  async #fill(): Promise<boolean> {
    if (this.#start > 0 && this.#start === this.#end) {
      this.#start = this.#end = 0;
    }
    if (this.#end === this.#buf.length) {
      const live = this.#end - this.#start;
      const next = new Uint8Array(
        live * 2 > this.#buf.length ? this.#buf.length * 2 : this.#buf.length,
      );
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#start = 0;
      this.#end = live;
    }
    const n = await this.tcp.read(this.#buf.subarray(this.#end));
    if (n === null) return false;
    this.gotAny = true;
    this.#end += n;
    return true;
  }

  async readHead(): Promise<Parsed> {
    for (;;) {
      // decode what is buffered (a head is short) and let the string search
      // find the blank line: much cheaper than a byte-wise search in JS
      const text = latin1(
        this.#buf,
        this.#start,
        Math.min(this.#end, this.#start + MAX_HEAD),
      );
      // the head ends at the first empty line, CRLF or bare LF
      const crlf = text.indexOf("\n\r\n");
      const lf = (crlf >= 0 ? text.slice(0, crlf + 1) : text).indexOf("\n\n");
      if (lf >= 0 || crlf >= 0) {
        const at = lf >= 0 ? lf : crlf;
        this.#start += at + (lf >= 0 ? 2 : 3);
        return parseHead(text.slice(0, at));
      }
      if (this.#end - this.#start > MAX_HEAD) {
        throw new FramingError("upstream response head too large");
      }
      if (!(await this.#fill())) {
        throw new Error("upstream closed the connection");
      }
    }
  }

  /** The whole body when it is already buffered. */
  takeIfBuffered(length: number): Uint8Array<ArrayBuffer> | undefined {
    if (this.#end - this.#start < length) return undefined;
    const out = this.#buf.slice(this.#start, this.#start + length);
    this.#start += length;
    return out;
  }

  bodyStream(
    res: Parsed,
    done: (reusable: boolean) => void,
  ): ReadableStream<Uint8Array> {
    let left = res.length ?? Infinity;
    let chunkLeft = 0;
    let finished = false;
    const finish = (reusable: boolean) => {
      if (!finished) {
        finished = true;
        done(reusable);
      }
    };
    const take = async (max: number): Promise<Uint8Array | null> => {
      if (this.#start === this.#end && !(await this.#fill())) return null;
      const n = Math.min(max, this.#end - this.#start);
      const out = this.#buf.slice(this.#start, this.#start + n);
      this.#start += n;
      return out;
    };
    const line = async (): Promise<string> => {
      for (;;) {
        const at = this.#buf.subarray(0, this.#end).indexOf(10, this.#start);
        if (at >= 0) {
          const s = latin1(this.#buf, this.#start, at);
          this.#start = at + 1;
          return s.endsWith("\r") ? s.slice(0, -1) : s;
        }
        if (this.#end - this.#start > MAX_HEAD) {
          throw new FramingError("upstream chunk line too long");
        }
        if (!(await this.#fill())) throw new Error("upstream closed mid-body");
      }
    };
    return new ReadableStream<Uint8Array>({
      pull: async (c) => {
        try {
          if (res.chunked) {
            if (chunkLeft === 0) {
              const size = chunkSize(await line());
              if (size === 0) {
                while ((await line()) !== "");
                finish(true);
                return c.close();
              }
              chunkLeft = size;
            }
            const part = await take(chunkLeft);
            if (!part) throw new Error("upstream closed mid-body");
            chunkLeft -= part.byteLength;
            if (chunkLeft === 0 && (await line()) !== "") {
              throw new FramingError("upstream chunk not followed by CRLF");
            }
            return c.enqueue(part);
          }
          if (left === 0) {
            finish(true);
            return c.close();
          }
          const part = await take(Math.min(left, 64 * 1024));
          if (!part) {
            if (res.length === undefined) {
              finish(false);
              return c.close();
            }
            throw new Error("upstream closed mid-body");
          }
          left -= part.byteLength;
          c.enqueue(part);
          if (left === 0) {
            finish(true);
            c.close();
          }
        } catch (err) {
          finish(false);
          c.error(err);
        }
      },
      cancel: () => finish(false),
    }, { highWaterMark: 0 });
  }
}

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: |$)/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const LENGTH = /^\d{1,15}$/;
const CHUNK_SIZE = /^[0-9a-fA-F]{1,12}$/;

/** Parses a response head (lines end in CRLF or LF, the last one cut). */
function parseHead(text: string): Parsed {
  const lines = text.split("\n");
  const statusLine = noCr(lines[0]!);
  const m = STATUS_LINE.exec(statusLine);
  if (!m) {
    throw new FramingError(
      `malformed upstream status line ${
        JSON.stringify(statusLine.slice(0, 40))
      }`,
    );
  }
  const status = Number(m[2]);
  const headers: [string, string][] = [];
  let length: number | undefined;
  let te: string | undefined;
  let close = m[1] === "0";
  for (let i = 1; i < lines.length; i++) {
    const l = noCr(lines[i]!);
    const colon = l.indexOf(":");
    const name = l.slice(0, colon < 0 ? 0 : colon);
    // no colon, a folded line (leading blank), a space before the colon
    if (!TOKEN.test(name)) {
      throw new FramingError(
        `malformed upstream header line ${JSON.stringify(l.slice(0, 40))}`,
      );
    }
    const key = name.toLowerCase();
    const value = l.slice(colon + 1).trim();
    if (key === "content-length") {
      length = contentLength(value, length);
      continue;
    }
    if (key === "transfer-encoding") {
      te = te === undefined ? value : `${te}, ${value}`;
      continue;
    }
    if (key === "connection") {
      const v = value.toLowerCase();
      if (v.includes("close")) close = true;
      if (v.includes("keep-alive")) close = false;
    }
    headers.push([key, value]);
  }
  let chunked = false;
  if (te !== undefined) {
    // as nginx: any other coding, or a length beside it, is an error
    if (te.toLowerCase() !== "chunked") {
      throw new FramingError(
        `upstream Transfer-Encoding ${JSON.stringify(te)} is not "chunked"`,
      );
    }
    if (length !== undefined) {
      throw new FramingError(
        "upstream sent both Content-Length and Transfer-Encoding",
      );
    }
    chunked = true;
  }
  // a head with neither length nor chunking: the body runs to the close,
  // unless the status or the method says there is none (the client decides)
  if (length !== undefined) headers.push(["content-length", String(length)]);
  return {
    status,
    headers,
    ...(length !== undefined ? { length } : {}),
    chunked,
    close,
  };
}

/**
 * The length a Content-Length value gives: digits only; repeated values
 * (`5, 5` or a second header) must agree with each other and with `prior`.
 */
function contentLength(value: string, prior: number | undefined): number {
  let length = prior;
  for (const part of value.split(",")) {
    const v = part.trim();
    if (!LENGTH.test(v)) {
      throw new FramingError(
        `upstream Content-Length ${JSON.stringify(value)} is not a length`,
      );
    }
    const n = Number(v);
    if (length !== undefined && n !== length) {
      throw new FramingError(
        `upstream sent two Content-Lengths: ${length} and ${n}`,
      );
    }
    length = n;
  }
  return length!;
}

/** A chunk-size line's size (extensions after `;` ignored). */
function chunkSize(line: string): number {
  const semi = line.indexOf(";");
  const hex = (semi < 0 ? line : line.slice(0, semi)).replace(/[ \t]+$/, "");
  if (!CHUNK_SIZE.test(hex)) {
    throw new FramingError(
      `malformed upstream chunk size ${JSON.stringify(line.slice(0, 40))}`,
    );
  }
  return parseInt(hex, 16);
}

function noCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

function latin1(buf: Uint8Array, from: number, to: number): string {
  let s = "";
  for (let i = from; i < to; i += 4096) {
    s += String.fromCharCode.apply(
      null,
      buf.subarray(i, Math.min(to, i + 4096)) as unknown as number[],
    );
  }
  return s;
}
