/**
 * @module
 * The per-host key of the keyed spec hashes: 32 random bytes in
 * `<data_dir>/env_hmac.key` (mode 0600), made on first use. Labels carry an
 * HMAC-SHA256 of the spec under this key instead of env values, so a changed
 * value still changes the hash while the hash says nothing about the value
 * to anyone without the key (a plain hash of a short secret can be guessed).
 */

const KEY_FILE = "env_hmac.key";
const cache = new Map<string, Promise<CryptoKey>>();

/** The HMAC key of the data dir `dataDir` (read or created once per process). */
export function hostKey(dataDir: string): Promise<CryptoKey> {
  let p = cache.get(dataDir);
  if (!p) {
    p = loadOrCreate(dataDir);
    cache.set(dataDir, p);
    p.catch(() => cache.delete(dataDir));
  }
  return p;
}

async function loadOrCreate(dataDir: string): Promise<CryptoKey> {
  const path = `${dataDir}/${KEY_FILE}`;
  let raw: Uint8Array<ArrayBuffer>;
  try {
    raw = await Deno.readFile(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    raw = crypto.getRandomValues(new Uint8Array(32));
    await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
    try {
      await Deno.writeFile(path, raw, { createNew: true, mode: 0o600 });
    } catch (e) {
      // another process made it first: use theirs
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      raw = await Deno.readFile(path);
    }
  }
  if (raw.length < 32) {
    throw new Error(
      `${path} holds ${raw.length} bytes, not a 32-byte key: remove it (labels of existing releases then hash differently)`,
    );
  }
  return await crypto.subtle.importKey(
    "raw",
    raw,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
}

/** Hex HMAC-SHA256 of `text` under `key`, cut to 16 bytes. */
export async function keyedHash(key: CryptoKey, text: string): Promise<string> {
  const mac = new Uint8Array(
    await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text)),
  );
  return [...mac.slice(0, 16)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}
