/**
 * @module
 * The connection side of `h1_client.ts`: a TCP or Unix connection with a
 * read buffer, response head parsing and body framing (length, chunked,
 * close).
 */

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
        Math.min(this.#end, this.#start + 64 * 1024),
      );
      const at = text.indexOf("\r\n\r\n");
      if (at >= 0) {
        this.#start += at + 4;
        return parseHead(text.slice(0, at));
      }
      if (this.#end - this.#start > 64 * 1024) {
        throw new Error("upstream response head too large");
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
        const at = indexOf(this.#buf, [13, 10], this.#start, this.#end);
        if (at >= 0) {
          const s = latin1(this.#buf, this.#start, at);
          this.#start = at + 2;
          return s;
        }
        if (!(await this.#fill())) throw new Error("upstream closed mid-body");
      }
    };
    return new ReadableStream<Uint8Array>({
      pull: async (c) => {
        try {
          if (res.chunked) {
            if (chunkLeft === 0) {
              const size = parseInt((await line()).split(";")[0]!, 16);
              if (!(size >= 0)) throw new Error("bad chunk size from upstream");
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
            if (chunkLeft === 0) await line();
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

function parseHead(text: string): Parsed {
  const lines = text.split("\r\n");
  const status = Number(lines[0]!.slice(9, 12));
  if (!lines[0]!.startsWith("HTTP/1.") || !(status >= 100)) {
    throw new Error("malformed upstream status line");
  }
  const headers: [string, string][] = [];
  let length: number | undefined;
  let chunked = false;
  let close = lines[0]!.startsWith("HTTP/1.0");
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    const colon = l.indexOf(":");
    if (colon <= 0) continue;
    const name = l.slice(0, colon).trim().toLowerCase();
    const value = l.slice(colon + 1).trim();
    if (name === "content-length") length = Number(value);
    else if (name === "transfer-encoding") {
      chunked = value.toLowerCase().includes("chunked");
      continue;
    } else if (name === "connection") {
      const v = value.toLowerCase();
      if (v.includes("close")) close = true;
      if (v.includes("keep-alive")) close = false;
    }
    headers.push([name, value]);
  }
  if (chunked) length = undefined;
  if (length === undefined && !chunked) close = true;
  return {
    status,
    headers,
    ...(length !== undefined ? { length } : {}),
    chunked,
    close,
  };
}

function indexOf(
  buf: Uint8Array,
  pat: number[],
  from: number,
  to: number,
): number {
  const first = pat[0]!;
  for (
    let i = buf.indexOf(first, from);
    i >= 0 && i + pat.length <= to;
    i = buf.indexOf(first, i + 1)
  ) {
    let ok = true;
    for (let j = 1; j < pat.length; j++) {
      if (buf[i + j] !== pat[j]) {
        ok = false;
        break;
      }
    }
    if (ok) return i;
  }
  return -1;
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
