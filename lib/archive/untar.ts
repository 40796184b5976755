/**
 * @module
 * A streaming tar reader (ustar, GNU long names, pax `path`/`linkpath`),
 * optionally gzip-compressed (fflate `Gunzip`, fed in small slices). Bytes go
 * to the writer as they are decoded, so its limits stop a bomb early.
 */
import { Gunzip } from "fflate";
import { ArchiveError, type ArchiveWriter, type FileSink } from "./writer.ts";
import { yielder } from "./_yield.ts";
import { decompressSliced } from "./_sliced.ts";
import { concat } from "../bytes.ts";

/** Unpacks a tar (or .tar.gz when `gzip`) archive through `writer`. */
export async function untar(
  data: Uint8Array,
  writer: ArchiveWriter,
  gzip: boolean,
): Promise<void> {
  const parser = new TarParser(writer);
  const pause = yielder();
  if (!gzip) {
    for (let i = 0; i < data.length; i += 65536) {
      parser.push(data.subarray(i, i + 65536));
      await pause();
    }
  } else {
    await decompressSliced(
      Gunzip,
      data,
      (chunk) => parser.push(chunk),
      "Gzip stream is corrupt",
      pause,
    );
  }
  parser.end();
  writer.finish();
}

interface Pending {
  kind: "file" | "meta";
  left: number;
  pad: number;
  sink?: FileSink;
  meta?: Uint8Array[];
  metaType?: string;
}

class TarParser {
  #buf = new Uint8Array(0);
  #pending: Pending | undefined;
  #longName: string | undefined;
  #longLink: string | undefined;
  #done = false;
  #dec = new TextDecoder();

  constructor(readonly writer: ArchiveWriter) {}

  push(chunk: Uint8Array): void {
    let c = chunk;
    while (c.length && !this.#done) {
      const p = this.#pending;
      if (p && p.left > 0) {
        const take = c.subarray(0, Math.min(p.left, c.length));
        if (p.sink) p.sink.write(take);
        else p.meta?.push(take.slice());
        p.left -= take.length;
        c = c.subarray(take.length);
        if (p.left === 0) this.#endData(p);
        continue;
      }
      if (p && p.pad > 0) {
        const skip = Math.min(p.pad, c.length);
        p.pad -= skip;
        c = c.subarray(skip);
        if (p.pad === 0) this.#pending = undefined;
        continue;
      }
      const need = 512 - this.#buf.length;
      const take = c.subarray(0, need);
      const merged = new Uint8Array(this.#buf.length + take.length);
      merged.set(this.#buf);
      merged.set(take, this.#buf.length);
      this.#buf = merged;
      c = c.subarray(take.length);
      if (this.#buf.length === 512) {
        const header = this.#buf;
        this.#buf = new Uint8Array(0);
        this.#header(header);
      }
    }
  }

  end(): void {
    if (this.#pending && (this.#pending.left > 0)) {
      this.#pending.sink?.close();
      throw new ArchiveError("Tar archive is truncated");
    }
  }

  #endData(p: Pending): void {
    p.sink?.close();
    if (p.meta) {
      const text = this.#dec.decode(concat(p.meta));
      if (p.metaType === "L") this.#longName = text.replace(/\0.*$/s, "");
      else if (p.metaType === "K") this.#longLink = text.replace(/\0.*$/s, "");
      else if (p.metaType === "x") this.#pax(text);
    }
    if (p.pad === 0) this.#pending = undefined;
  }

  #pax(text: string): void {
    for (const m of text.matchAll(/\d+ ([^=]+)=([^\n]*)\n/g)) {
      if (m[1] === "path") this.#longName = m[2];
      if (m[1] === "linkpath") this.#longLink = m[2];
    }
  }

  #header(h: Uint8Array): void {
    if (h.every((b) => b === 0)) {
      this.#done = true;
      return;
    }
    const str = (from: number, len: number) =>
      this.#dec.decode(h.subarray(from, from + len)).replace(/\0.*$/s, "");
    const num = (from: number, len: number) => {
      if ((h[from] ?? 0) & 0x80) {
        throw new ArchiveError("Tar entry uses a base-256 size");
      }
      const s = str(from, len).trim();
      const n = s ? parseInt(s, 8) : 0;
      if (!Number.isFinite(n) || n < 0) {
        throw new ArchiveError("Tar header is corrupt");
      }
      return n;
    };
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    if (sum !== num(148, 8)) {
      throw new ArchiveError(
        "Tar header checksum mismatch (not a tar archive?)",
      );
    }
    const size = num(124, 12);
    const type = String.fromCharCode(h[156] ?? 48) || "0";
    const prefix = str(257, 6).startsWith("ustar") ? str(345, 155) : "";
    let name = this.#longName ??
      (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100));
    const link = this.#longLink ?? str(157, 100);
    const mode = num(100, 8);
    const pad = (512 - (size % 512)) % 512;
    if (type === "L" || type === "K" || type === "x" || type === "g") {
      if (size > 1 << 20) {
        throw new ArchiveError("Tar extended header is too large");
      }
      this.#pending = {
        kind: "meta",
        left: size,
        pad,
        meta: [],
        metaType: type,
      };
      if (size === 0) this.#endData(this.#pending);
      return;
    }
    this.#longName = undefined;
    this.#longLink = undefined;
    name = name.replace(/^\.\/+/, "");
    let sink: FileSink | undefined;
    switch (type) {
      case "0":
      case "\0":
      case "7":
        sink = this.writer.file(name, mode);
        break;
      case "5":
        if (name && name !== ".") this.writer.dir(name);
        break;
      case "2":
        this.writer.symlink(name, link);
        break;
      case "1":
        this.writer.hardlink(name, link);
        break;
      case "3":
      case "4":
        this.writer.special(name, "device file");
        break;
      case "6":
        this.writer.special(name, "FIFO");
        break;
      default:
        throw new ArchiveError(
          `Tar entry "${name}" has unsupported type "${type}"`,
        );
    }
    const p: Pending = {
      kind: "file",
      left: sink ? size : 0,
      pad: sink ? pad : 0,
    };
    if (sink) p.sink = sink;
    if (!sink && size > 0 && type !== "1" && type !== "2") {
      throw new ArchiveError(`Tar entry "${name}" of type "${type}" has data`);
    }
    this.#pending = p;
    if (p.left === 0) this.#endData(p);
  }
}
