/**
 * @module
 * Reads a zip upload from its central directory and inflates each entry with
 * fflate's streaming `Inflate`, feeding small input slices so that a bomb is
 * stopped by the writer's byte count long before memory fills. Stored and
 * deflated entries; no encryption, no zip64 (uploads are far below 4 GiB).
 *
 * Why our own reader and not a library's: fflate's `unzipSync`/`unzip`
 * inflate each entry whole into memory, and their `filter` sees only the
 * sizes the archive declares (an attacker's numbers). Measured on a 512 MiB
 * entry of zeros (520 KB zip) against a 1 MiB limit: `unzipSync` peaks at
 * 590 MiB RSS and 1.6 s before any check can run; this reader refuses it
 * after 1 MiB, at 98 MiB RSS (the Deno baseline) in 40 ms. fflate's
 * streaming `Unzip` walks local headers in order and cannot use the central
 * directory, which is what names the entries here. tar has no such problem:
 * `untar.ts` uses tar-stream.
 */
import { Inflate } from "fflate";
import { ArchiveError, type ArchiveWriter } from "./writer.ts";
import { yielder } from "./_yield.ts";
import { decompressSliced } from "./_sliced.ts";

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/** Unpacks a zip archive through `writer`. */
export async function unzip(
  data: Uint8Array,
  writer: ArchiveWriter,
): Promise<void> {
  const pause = yielder();
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const u16 = (at: number) => check(at + 2) && view.getUint16(at, true);
  const u32 = (at: number) => check(at + 4) && view.getUint32(at, true);
  function check(end: number): true {
    if (end > data.length) throw new ArchiveError("Zip archive is truncated");
    return true;
  }
  let eocd = -1;
  for (
    let i = data.length - 22;
    i >= Math.max(0, data.length - 22 - 65535);
    i--
  ) {
    if (view.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    throw new ArchiveError("Not a zip archive (no end of central directory)");
  }
  const count = u16(eocd + 10) as number;
  let at = u32(eocd + 16) as number;
  if (count === 0xffff || at === 0xffffffff) {
    throw new ArchiveError("Zip64 archives are not supported");
  }
  const decoder = new TextDecoder();
  for (let n = 0; n < count; n++) {
    if (u32(at) !== CENTRAL) {
      throw new ArchiveError("Zip central directory is corrupt");
    }
    const madeBy = (u16(at + 4) as number) >> 8;
    const flags = u16(at + 8) as number;
    const method = u16(at + 10) as number;
    const compSize = u32(at + 20) as number;
    const nameLen = u16(at + 28) as number;
    const extraLen = u16(at + 30) as number;
    const commentLen = u16(at + 32) as number;
    const external = u32(at + 38) as number;
    const local = u32(at + 42) as number;
    check(at + 46 + nameLen);
    const name = decoder.decode(data.subarray(at + 46, at + 46 + nameLen));
    at += 46 + nameLen + extraLen + commentLen;
    if (flags & 1) throw new ArchiveError(`Zip entry "${name}" is encrypted`);
    if (u32(local) !== LOCAL) {
      throw new ArchiveError(`Zip entry "${name}" is corrupt`);
    }
    const start = local + 30 + (u16(local + 26) as number) +
      (u16(local + 28) as number);
    check(start + compSize);
    const body = data.subarray(start, start + compSize);
    const unixMode = madeBy === 3 ? external >>> 16 : 0;
    const type = unixMode & 0o170000;
    if (name.endsWith("/") || type === 0o040000 || (external & 0x10 && !type)) {
      writer.dir(name);
      continue;
    }
    if (type && type !== 0o100000 && type !== 0o120000) {
      writer.special(
        name,
        type === 0o010000
          ? "FIFO"
          : type === 0o140000
          ? "socket"
          : "device file",
      );
    }
    if (type === 0o120000) {
      const target = await collect(name, method, body, 4096, pause);
      writer.symlink(name, decoder.decode(target));
      continue;
    }
    const sink = writer.file(name, unixMode & 0o777 || 0o644);
    try {
      await inflateInto(
        name,
        method,
        body,
        (chunk) => sink.write(chunk),
        pause,
      );
    } finally {
      sink.close();
    }
  }
  writer.finish();
}

async function inflateInto(
  name: string,
  method: number,
  body: Uint8Array,
  out: (chunk: Uint8Array) => void,
  pause: () => Promise<void> | undefined,
): Promise<void> {
  if (method === 0) {
    for (let i = 0; i < body.length; i += 65536) {
      out(body.subarray(i, i + 65536));
      await pause();
    }
    return;
  }
  if (method !== 8) {
    throw new ArchiveError(
      `Zip entry "${name}" uses compression method ${method}; only stored and deflate are supported`,
    );
  }
  await decompressSliced(
    Inflate,
    body,
    out,
    `Zip entry "${name}" is corrupt`,
    pause,
  );
}

async function collect(
  name: string,
  method: number,
  body: Uint8Array,
  max: number,
  pause: () => Promise<void> | undefined,
): Promise<Uint8Array> {
  const parts: Uint8Array<ArrayBuffer>[] = [];
  let size = 0;
  await inflateInto(name, method, body, (chunk) => {
    size += chunk.length;
    if (size > max) throw new ArchiveError(`Zip link "${name}" is too long`);
    parts.push(chunk.slice());
  }, pause);
  return new Uint8Array(await new Blob(parts).arrayBuffer());
}
