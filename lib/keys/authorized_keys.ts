/**
 * @module
 * `<data_dir>/authorized_keys`: one public key per line (`rsa-pub-...` as
 * MyPaas writes it, or `ed25519-pub-...`), `#` comments, anything after the
 * key on a line is a comment. The file is re-read when its mtime or size
 * changes, so edits apply without a restart: checked at most once per
 * `minCheckMs` for known keys, and at once for an unknown fingerprint.
 *
 * A fingerprint is short (MyPaas's: the last 10 characters of the key text;
 * of a 2048-bit RSA key with e=65537 only 19 bits vary), so two keys can share
 * one: lookups return every key with the fingerprint and the caller tries
 * each against the signature.
 */
import type { Logger } from "../log.ts";
import { PublicKey } from "./public_key.ts";

/** Looks up public keys by fingerprint. */
export interface KeyLookup {
  /** Every authorized key with this fingerprint (none: an empty array). */
  find(fingerprint: string): Promise<readonly PublicKey[]>;
}

/** Parses the text of an authorized_keys file; bad lines go to `onBad`. */
export async function parseAuthorizedKeys(
  text: string,
  onBad: (line: number, message: string) => void = () => {},
): Promise<Map<string, PublicKey[]>> {
  const keys = new Map<string, PublicKey[]>();
  const lines = text.split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    try {
      const key = await PublicKey.parse(line);
      const same = keys.get(key.fingerprint) ?? [];
      if (!same.some((k) => k.text === key.text)) same.push(key);
      keys.set(key.fingerprint, same);
    } catch (err) {
      onBad(i + 1, (err as Error).message);
    }
  }
  return keys;
}

/** The authorized_keys file, re-read when it changes. */
export class AuthorizedKeys implements KeyLookup {
  #keys = new Map<string, PublicKey[]>();
  #stamp = "";
  #checkedAt = -Infinity;
  #reading: Promise<void> | undefined;

  constructor(
    readonly file: string,
    readonly opts: {
      log?: Logger;
      /** Least time between two stat() calls (default 1000 ms). */
      minCheckMs?: number;
      now?: () => number;
    } = {},
  ) {}

  /** The keys with this fingerprint, reading the file again if it changed. */
  async find(fingerprint: string): Promise<readonly PublicKey[]> {
    await this.refresh();
    const keys = this.#keys.get(fingerprint);
    if (keys) return keys;
    // A key added a moment ago must work at once: check (stat) now.
    await this.refresh(false, true);
    return this.#keys.get(fingerprint) ?? [];
  }

  /** Number of keys loaded. */
  get size(): number {
    let n = 0;
    for (const same of this.#keys.values()) n += same.length;
    return n;
  }

  /**
   * Re-reads the file if its mtime/size changed (or `force`); the stat is
   * skipped within `minCheckMs` of the last one unless `now`.
   */
  refresh(force = false, now = false): Promise<void> {
    const t = (this.opts.now ?? Date.now)();
    if (
      !force && !now && t - this.#checkedAt < (this.opts.minCheckMs ?? 1000)
    ) {
      return this.#reading ?? Promise.resolve();
    }
    this.#checkedAt = t;
    this.#reading ??= this.#read(force).finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  async #read(force: boolean): Promise<void> {
    let stamp: string;
    try {
      const st = await Deno.stat(this.file);
      stamp = `${st.mtime?.getTime()}:${st.size}:${st.ino}`;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      if (this.#keys.size) this.opts.log?.warn(`${this.file} is gone: no keys`);
      this.#keys = new Map();
      this.#stamp = "";
      return;
    }
    if (!force && stamp === this.#stamp) return;
    const text = await Deno.readTextFile(this.file);
    this.#keys = await parseAuthorizedKeys(
      text,
      (line, msg) => this.opts.log?.warn(`${this.file}:${line}: ${msg}`),
    );
    this.#stamp = stamp;
    this.opts.log?.info(`loaded ${this.size} key(s) from ${this.file}`);
  }
}
