/**
 * The IPC floor of bench/isolates_bench.ts: length-prefixed frames on a Unix
 * socket. Run as a program (FLOOR_SOCKET=path), it is the trivial backend
 * that answers each frame with a fixed one.
 */

/** Calls `onFrame` with each frame's payload until the connection ends. */
export async function readFrames(
  conn: Deno.Conn,
  onFrame: (payload: Uint8Array<ArrayBuffer>) => void | Promise<void>,
): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  let have = 0;
  for (;;) {
    const n = await conn.read(buf.subarray(have)).catch(() => null);
    if (n === null) return;
    have += n;
    let at = 0;
    const frames: Uint8Array<ArrayBuffer>[] = [];
    while (have - at >= 4) {
      const len = new DataView(buf.buffer, at).getUint32(0);
      if (have - at < 4 + len) break;
      frames.push(buf.slice(at + 4, at + 4 + len));
      at += 4 + len;
    }
    buf.copyWithin(0, at, have);
    have -= at;
    for (const f of frames) await onFrame(f);
  }
}

/** `payload` with its 4-byte big-endian length in front. */
export function frame(payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, 4);
  return out;
}

if (import.meta.main) {
  const path = Deno.env.get("FLOOR_SOCKET")!;
  await Deno.remove(path).catch(() => {});
  const listener = Deno.listen({ transport: "unix", path });
  const reply = frame(new TextEncoder().encode("hello world"));
  await Deno.stdout.write(new TextEncoder().encode("ready\n"));
  for await (const conn of listener) {
    void readFrames(conn, async () => {
      await conn.write(reply);
    });
  }
}
