/**
 * The backend of bench/isolates_bench.ts's IPC floor: answers each
 * length-prefixed frame on a Unix socket with a fixed frame, nothing else.
 */
const path = Deno.env.get("FLOOR_SOCKET")!;
await Deno.remove(path).catch(() => {});
const listener = Deno.listen({ transport: "unix", path });
const body = new TextEncoder().encode("hello world");
const reply = new Uint8Array(4 + body.length);
new DataView(reply.buffer).setUint32(0, body.length);
reply.set(body, 4);
await Deno.stdout.write(new TextEncoder().encode("ready\n"));
for await (const conn of listener) {
  void (async () => {
    const buf = new Uint8Array(64 * 1024);
    let have = 0;
    for (;;) {
      const n = await conn.read(buf.subarray(have)).catch(() => null);
      if (n === null) return;
      have += n;
      let at = 0, frames = 0;
      while (have - at >= 4) {
        const len = new DataView(buf.buffer, at).getUint32(0);
        if (have - at < 4 + len) break;
        at += 4 + len;
        frames++;
      }
      buf.copyWithin(0, at, have);
      have -= at;
      for (let i = 0; i < frames; i++) await conn.write(reply);
    }
  })();
}
