/**
 * @module
 * Unpacks a tar upload, optionally gzip-compressed, with tar-stream's
 * `extract()` (ustar, pax, GNU long names, base-256 sizes). The gzip layer is
 * fflate's `Gunzip` fed in small slices, and feeding waits whenever the
 * parser is full, so bytes reach the writer as they are decoded and its
 * limits stop a bomb early.
 */
import { once } from "node:events";
import { Gunzip } from "fflate";
import { extract, type Header } from "tar-stream";
import { ArchiveError, type ArchiveWriter } from "./writer.ts";
import { yielder } from "./_yield.ts";
import { decompressSliced } from "./_sliced.ts";

/** Bytes of plain tar handed to the parser at a time. */
const SLICE = 65536;

/** Unpacks a tar (or .tar.gz when `gzip`) archive through `writer`. */
export async function untar(
  data: Uint8Array,
  writer: ArchiveWriter,
  gzip: boolean,
): Promise<void> {
  const ex = extract();
  const pause = yielder();
  let full = false;
  const push = (chunk: Uint8Array) => {
    if (!ex.write(chunk.slice())) full = true;
  };
  // Waits for the parser to drain (backpressure), else yields now and then.
  const wait = () => {
    if (!full) return pause();
    full = false;
    return once(ex, "drain").then(() => {});
  };
  const feed = async () => {
    if (!gzip) {
      for (let i = 0; i < data.length; i += SLICE) {
        push(data.subarray(i, i + SLICE));
        await wait();
      }
    } else {
      await decompressSliced(
        Gunzip,
        data,
        push,
        "Gzip stream is corrupt",
        wait,
      );
    }
  };
  feed().then(() => ex.end(undefined), (err) => ex.destroy(err));
  try {
    for await (const entry of ex) {
      const name = entry.header.name.replace(/^\.\/+/, "");
      if (
        entry.header.type === "file" || entry.header.type === "contiguous-file"
      ) {
        const sink = writer.file(name, entry.header.mode ?? 0o644);
        try {
          for await (const chunk of entry) sink.write(chunk as Uint8Array);
        } finally {
          sink.close();
        }
      } else {
        other(writer, name, entry.header);
        entry.resume();
      }
    }
  } catch (err) {
    ex.destroy();
    if (err instanceof ArchiveError) throw err;
    throw new ArchiveError(
      `Tar archive is truncated or corrupt: ${(err as Error).message}`,
    );
  }
  writer.finish();
}

/** An entry without file data: directory, link or refused special file. */
function other(writer: ArchiveWriter, name: string, h: Header): void {
  switch (h.type) {
    case "directory":
      if (name && name !== ".") writer.dir(name);
      break;
    case "symlink":
      writer.symlink(name, h.linkname ?? "");
      break;
    case "link":
      writer.hardlink(name, h.linkname ?? "");
      break;
    case "character-device":
    case "block-device":
      writer.special(name, "device file");
      break;
    case "fifo":
      writer.special(name, "FIFO");
      break;
    default:
      throw new ArchiveError(
        `Tar entry "${name}" has unsupported type "${h.type}"`,
      );
  }
  if (h.size && h.type !== "link" && h.type !== "symlink") {
    throw new ArchiveError(`Tar entry "${name}" of type "${h.type}" has data`);
  }
}
