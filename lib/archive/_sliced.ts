/**
 * @module
 * Feed compressed bytes to an fflate stream (`Gunzip`, `Inflate`) a small
 * slice at a time, so each output burst is bounded and the writer's limits
 * stop a bomb early; the event loop gets a turn between slices.
 */
import { ArchiveError } from "./writer.ts";

/** Compressed bytes fed at a time (bounds one output burst). */
const SLICE = 4096;

/** An fflate streaming decompressor's constructor. */
export type FflateStream = new (
  ondata: (chunk: Uint8Array, final: boolean) => void,
) => { push(chunk: Uint8Array, final?: boolean): void };

/**
 * Decompresses `data` with `Stream`, handing each output chunk to `out`.
 * A throw from `out` (a writer limit) stops the feeding and is rethrown as
 * is; a throw from the decompressor becomes an ArchiveError whose message
 * is `corrupt` followed by fflate's reason.
 */
export async function decompressSliced(
  Stream: FflateStream,
  data: Uint8Array,
  out: (chunk: Uint8Array) => void,
  corrupt: string,
  pause: () => Promise<void> | undefined,
): Promise<void> {
  let failure: unknown;
  const stream = new Stream((chunk) => {
    if (failure !== undefined) return;
    try {
      out(chunk);
    } catch (err) {
      failure = err;
    }
  });
  for (let i = 0; i < data.length && failure === undefined; i += SLICE) {
    const end = Math.min(i + SLICE, data.length);
    try {
      stream.push(data.subarray(i, end), end === data.length);
    } catch (err) {
      if (failure === undefined) {
        throw new ArchiveError(`${corrupt}: ${(err as Error).message}`);
      }
    }
    await pause();
  }
  if (data.length === 0) stream.push(new Uint8Array(), true);
  if (failure !== undefined) throw failure;
}
