/**
 * @module
 * One tier of the cache: bytes by key. Keys are `/`-separated segments of
 * `[A-Za-z0-9._=-]`, never `.` or `..` (checked by `checkKey()`), so a key
 * names a file below the local tier's dir and an object in the bucket alike.
 */

/** Bytes by key: the local disk and the bucket both implement it. */
export interface Tier {
  /** The bytes of `key`, or null when it is not there. */
  get(key: string): Promise<Uint8Array | null>;
  put(key: string, data: Uint8Array): Promise<void>;
  /** Removes `key`; no error when it is not there. */
  delete(key: string): Promise<void>;
  has(key: string): Promise<boolean>;
  /** Every key starting with `prefix`. */
  list(prefix: string): Promise<string[]>;
}

const SEGMENT = /^[A-Za-z0-9._=-]+$/;

/** Throws a TypeError unless `key` is a valid cache key. */
export function checkKey(key: string): string {
  const parts = key.split("/");
  for (const p of parts) {
    if (!SEGMENT.test(p) || p === "." || p === "..") {
      throw new TypeError(`bad cache key "${key}"`);
    }
  }
  return key;
}
