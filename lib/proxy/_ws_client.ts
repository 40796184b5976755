/**
 * @module
 * A small WebSocket client (RFC 6455) over Deno.connect, for the proxy's
 * WebSocket pass-through. Written here because Deno's `WebSocket` sends the
 * Host of its URL whatever headers it is given, and the upstream must get
 * the authority the request was routed by (as the h1 client does).
 */

function encodeBase64(b: Uint8Array): string {
  return btoa(String.fromCharCode(...b));
}

/** One message, as the relay passes it on. */
export type WsData = string | Uint8Array<ArrayBuffer>;

/** An open upstream WebSocket. */
export interface UpstreamWs {
  /** The sub-protocol the upstream chose ("" when none). */
  protocol: string;
  /** Starts reading messages (call once the handlers are set). */
  start(): void;
  send(data: WsData): void;
  close(code?: number, reason?: string): void;
  onmessage: (data: WsData) => void;
  onclose: (code: number, reason: string) => void;
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const MAX_HEAD = 16 * 1024;
const MAX_MESSAGE = 64 << 20;
const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Opens a WebSocket to `origin` (`http://host:port`) + `path`, sending
 * `headers` as they are (Host included); null when the upstream refuses or
 * does not answer within `timeoutMs`.
 */
export async function connectWs(
  origin: string,
  path: string,
  headers: Iterable<[string, string]>,
  protocols: string[],
  timeoutMs: number,
): Promise<UpstreamWs | null> {
  const u = new URL(origin);
  let tcp: Deno.TcpConn;
  try {
    tcp = await Deno.connect({
      hostname: u.hostname.replace(/^\[|\]$/g, ""),
      port: Number(u.port || 80),
    });
  } catch {
    return null;
  }
  const timer = setTimeout(() => close(tcp), timeoutMs);
  const key = encodeBase64(crypto.getRandomValues(new Uint8Array(16)));
  let head = `GET ${path} HTTP/1.1\r\n`;
  for (const [k, v] of headers) head += `${k}: ${v}\r\n`;
  head += "upgrade: websocket\r\nconnection: Upgrade\r\n" +
    `sec-websocket-key: ${key}\r\nsec-websocket-version: 13\r\n`;
  if (protocols.length) {
    head += `sec-websocket-protocol: ${protocols.join(", ")}\r\n`;
  }
  let buf: Uint8Array = new Uint8Array(0);
  try {
    await writeAll(tcp, enc.encode(head + "\r\n"));
    let end = -1;
    while ((end = indexOfHeadEnd(buf)) < 0) {
      if (buf.byteLength > MAX_HEAD) throw new Error("head too large");
      const chunk = await read(tcp);
      if (!chunk) throw new Error("closed");
      buf = concat(buf, chunk);
    }
    const lines = dec.decode(buf.subarray(0, end)).split(/\r?\n/);
    if (!/^HTTP\/1\.1 101(?: |$)/.test(lines[0] ?? "")) throw new Error("no");
    const h = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const i = l.indexOf(":");
      if (i > 0) {
        h.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
      }
    }
    const want = encodeBase64(
      new Uint8Array(
        await crypto.subtle.digest("SHA-1", enc.encode(key + GUID)),
      ),
    );
    if (h.get("sec-websocket-accept") !== want) throw new Error("bad accept");
    clearTimeout(timer);
    return open(tcp, buf.subarray(end), h.get("sec-websocket-protocol") ?? "");
  } catch {
    clearTimeout(timer);
    close(tcp);
    return null;
  }
}

function open(
  tcp: Deno.TcpConn,
  rest: Uint8Array,
  protocol: string,
): UpstreamWs {
  let writing = Promise.resolve();
  let closeSent = false;
  let closed = false;
  const write = (opcode: number, payload: Uint8Array) => {
    const frame = encodeFrame(opcode, payload);
    writing = writing.then(() => writeAll(tcp, frame)).catch(() => {});
  };
  const finish = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    writing.finally(() => close(tcp));
    ws.onclose(code, reason);
  };
  const ws: UpstreamWs = {
    protocol,
    start() {},
    send(data) {
      if (closeSent) return;
      if (typeof data === "string") write(1, enc.encode(data));
      else write(2, data);
    },
    close(code = 1000, reason = "") {
      if (closeSent) return;
      closeSent = true;
      const r = enc.encode(reason).subarray(0, 123);
      const p = new Uint8Array(2 + r.byteLength);
      p[0] = code >> 8;
      p[1] = code & 255;
      p.set(r, 2);
      write(8, p);
      // the upstream answers with its close frame; bound the wait
      setTimeout(() => finish(code, reason), 5000);
    },
    onmessage: () => {},
    onclose: () => {},
  };
  const loop = async () => {
    let buf: Uint8Array = rest;
    let parts: Uint8Array[] = [];
    let partsLen = 0;
    let msgOp = 0;
    for (;;) {
      const f = parseFrame(buf);
      if (!f) {
        const chunk = await read(tcp);
        if (!chunk) return finish(1006, "");
        buf = concat(buf, chunk);
        continue;
      }
      buf = buf.subarray(f.size);
      if (f.masked || f.length > MAX_MESSAGE) {
        ws.close(1002, "");
        return finish(1002, "");
      }
      if (f.opcode === 8) {
        const code = f.payload.byteLength >= 2
          ? (f.payload[0]! << 8) | f.payload[1]!
          : 1005;
        const reason = dec.decode(f.payload.subarray(2));
        if (!closeSent) {
          closeSent = true;
          write(8, f.payload.subarray(0, 2));
        }
        return finish(code, reason);
      }
      if (f.opcode === 9) {
        write(10, f.payload);
        continue;
      }
      if (f.opcode === 10) continue;
      if (f.opcode !== 0) msgOp = f.opcode;
      parts.push(f.payload);
      partsLen += f.payload.byteLength;
      if (partsLen > MAX_MESSAGE) {
        ws.close(1009, "");
        return finish(1009, "");
      }
      if (!f.fin) continue;
      const whole = parts.length === 1 ? parts[0]! : concatAll(parts);
      parts = [];
      partsLen = 0;
      if (!closed) {
        ws.onmessage(
          msgOp === 1 ? dec.decode(whole) : new Uint8Array(whole),
        );
      }
    }
  };
  let started = false;
  ws.start = () => {
    if (started) return;
    started = true;
    loop().catch(() => finish(1006, ""));
  };
  return ws;
}

interface Frame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  length: number;
  payload: Uint8Array;
  size: number;
}

function parseFrame(b: Uint8Array): Frame | null {
  if (b.byteLength < 2) return null;
  const fin = (b[0]! & 0x80) !== 0;
  const opcode = b[0]! & 0x0f;
  const masked = (b[1]! & 0x80) !== 0;
  let length = b[1]! & 0x7f;
  let at = 2;
  if (length === 126) {
    if (b.byteLength < 4) return null;
    length = (b[2]! << 8) | b[3]!;
    at = 4;
  } else if (length === 127) {
    if (b.byteLength < 10) return null;
    const v = new DataView(b.buffer, b.byteOffset + 2, 8).getBigUint64(0);
    length = v > BigInt(MAX_MESSAGE) ? MAX_MESSAGE + 1 : Number(v);
    at = 10;
    if (length > MAX_MESSAGE) {
      return {
        fin,
        opcode,
        masked,
        length,
        payload: new Uint8Array(),
        size: 0,
      };
    }
  }
  const maskAt = at;
  if (masked) at += 4;
  if (b.byteLength < at + length) return null;
  const payload = b.slice(at, at + length);
  if (masked) {
    for (let i = 0; i < payload.byteLength; i++) {
      payload[i]! ^= b[maskAt + (i & 3)]!;
    }
  }
  return { fin, opcode, masked, length, payload, size: at + length };
}

function encodeFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const n = payload.byteLength;
  const ext = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const out = new Uint8Array(2 + ext + 4 + n);
  out[0] = 0x80 | opcode;
  if (ext === 0) out[1] = 0x80 | n;
  else if (ext === 2) {
    out[1] = 0x80 | 126;
    out[2] = n >> 8;
    out[3] = n & 255;
  } else {
    out[1] = 0x80 | 127;
    new DataView(out.buffer, 2, 8).setBigUint64(0, BigInt(n));
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  out.set(mask, 2 + ext);
  const at = 6 + ext;
  for (let i = 0; i < n; i++) out[at + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

function indexOfHeadEnd(b: Uint8Array): number {
  for (let i = 0; i + 1 < b.byteLength; i++) {
    if (b[i] === 10 && b[i + 1] === 10) return i + 2;
    if (
      b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10
    ) return i + 4;
  }
  return -1;
}

async function read(tcp: Deno.TcpConn): Promise<Uint8Array | null> {
  const b = new Uint8Array(64 * 1024);
  const n = await tcp.read(b);
  return n === null ? null : b.subarray(0, n);
}

async function writeAll(tcp: Deno.TcpConn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.byteLength) off += await tcp.write(data.subarray(off));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (!a.byteLength) return b;
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

function concatAll(parts: Uint8Array[]): Uint8Array {
  return parts.reduce((a, b) => concat(a, b), new Uint8Array(0));
}

function close(tcp: Deno.TcpConn): void {
  try {
    tcp.close();
  } catch { /* closed */ }
}
