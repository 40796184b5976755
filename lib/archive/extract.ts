/**
 * @module
 * Unpacks an uploaded archive (zip, tar or tar.gz, told apart by their magic
 * bytes) into a directory under the upload rules of `ArchiveWriter`.
 */
import { untar } from "./untar.ts";
import { unzip } from "./unzip.ts";
import { ArchiveError, ArchiveWriter, type ExtractLimits } from "./writer.ts";

/** What was unpacked. */
export interface ExtractResult {
  format: "zip" | "tar" | "tar.gz";
  files: number;
  bytes: number;
}

/** The archive format of `data`, from its first bytes. */
export function sniffFormat(
  data: Uint8Array,
): ExtractResult["format"] | undefined {
  if (
    data[0] === 0x50 && data[1] === 0x4b && (data[2] === 3 || data[2] === 5)
  ) return "zip";
  if (data[0] === 0x1f && data[1] === 0x8b) return "tar.gz";
  const magic = new TextDecoder().decode(data.subarray(257, 262));
  if (magic === "ustar" || (data.length >= 512 && data.length % 512 === 0)) {
    return "tar";
  }
  return undefined;
}

/** Unpacks `data` into `dest` (an empty, existing directory). */
export async function extractArchive(
  data: Uint8Array,
  dest: string,
  limits: ExtractLimits,
): Promise<ExtractResult> {
  const format = sniffFormat(data);
  if (!format) {
    throw new ArchiveError(
      'Upload is not a zip or tar archive (push a directory with "mypaas push SERVER DIR")',
    );
  }
  const writer = new ArchiveWriter(dest, limits);
  // Both yield to the event loop every few ms: the proxy shares this thread.
  if (format === "zip") await unzip(data, writer);
  else await untar(data, writer, format === "tar.gz");
  return { format, files: writer.files, bytes: writer.bytes };
}
