/**
 * @module
 * Undo Docker's 8-byte-header multiplexing of stdout/stderr (plain line
 * splitting is lib/lines.ts).
 */
import type { LogLine } from "./runtime.ts";

/**
 * Demultiplexes a Docker log stream (frames of `[stream,0,0,0,size(4)]` then
 * `size` bytes) into lines per stream.
 */
export async function* demux(
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<LogLine> {
  let buf = new Uint8Array(0);
  const rest = { stdout: "", stderr: "" };
  const dec = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  function* emit(stream: "stdout" | "stderr", text: string) {
    rest[stream] += text;
    let nl;
    while ((nl = rest[stream].indexOf("\n")) >= 0) {
      yield { stream, line: rest[stream].slice(0, nl).replace(/\r$/, "") };
      rest[stream] = rest[stream].slice(nl + 1);
    }
  }
  for await (const chunk of chunks) {
    const joined = new Uint8Array(buf.length + chunk.length);
    joined.set(buf);
    joined.set(chunk, buf.length);
    buf = joined;
    while (buf.length >= 8) {
      const size = new DataView(buf.buffer, buf.byteOffset).getUint32(4);
      if (buf.length < 8 + size) break;
      const stream = buf[0] === 2 ? "stderr" : "stdout";
      yield* emit(
        stream,
        dec[stream].decode(buf.subarray(8, 8 + size), { stream: true }),
      );
      buf = buf.slice(8 + size);
    }
  }
  for (const stream of ["stdout", "stderr"] as const) {
    if (rest[stream]) yield { stream, line: rest[stream] };
  }
}
