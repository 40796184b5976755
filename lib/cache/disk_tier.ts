/**
 * @module
 * The local tier: one file per key below `dir`, least recently used files
 * removed once the total passes `maxSize`. Sizes and use order live in
 * memory, rebuilt from the files' mtimes at `open()`; a read touches the
 * file's mtime so the order survives a restart. An object larger than the
 * whole tier is refused (`TierFullError`): the caller keeps it in the
 * bucket only.
 */
import { checkKey, type Tier } from "./tier.ts";

/** An object that cannot fit the local tier at all. */
export class TierFullError extends Error {
  constructor(key: string, size: number, max: number) {
    super(
      `cache object "${key}" (${size} bytes) is larger than [cache] max_size (${max} bytes)`,
    );
    this.name = "TierFullError";
  }
}

/** The local disk tier with LRU eviction. */
export class DiskTier implements Tier {
  /** Key -> size, in use order (oldest first). */
  readonly #lru = new Map<string, number>();
  #total = 0;
  #evicted = 0;

  private constructor(readonly dir: string, readonly maxSize: number) {}

  /** Opens (creates) the tier at `dir` and reads back what it holds. */
  static async open(dir: string, maxSize: number): Promise<DiskTier> {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const t = new DiskTier(dir, maxSize);
    const found: { key: string; size: number; at: number }[] = [];
    const walk = async (sub: string) => {
      for await (const e of Deno.readDir(`${dir}/${sub}`)) {
        const rel = sub ? `${sub}/${e.name}` : e.name;
        if (e.isDirectory) await walk(rel);
        else if (e.isFile && !e.name.startsWith(".tmp-")) {
          const st = await Deno.stat(`${dir}/${rel}`);
          found.push({ key: rel, size: st.size, at: st.mtime?.getTime() ?? 0 });
        }
      }
    };
    await walk("");
    found.sort((a, b) => a.at - b.at);
    for (const f of found) t.#remember(f.key, f.size);
    await t.#evict();
    return t;
  }

  /** Bytes held. */
  get size(): number {
    return this.#total;
  }

  /** Objects held. */
  get entries(): number {
    return this.#lru.size;
  }

  /** Objects removed to make room since open. */
  get evicted(): number {
    return this.#evicted;
  }

  #path(key: string): string {
    return `${this.dir}/${checkKey(key)}`;
  }

  #remember(key: string, size: number): void {
    this.#forget(key);
    this.#lru.set(key, size);
    this.#total += size;
  }

  #forget(key: string): void {
    const old = this.#lru.get(key);
    if (old === undefined) return;
    this.#lru.delete(key);
    this.#total -= old;
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      const data = await Deno.readFile(this.#path(key));
      this.#remember(key, data.length);
      const now = new Date();
      await Deno.utime(this.#path(key), now, now).catch(() => {});
      return data;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        this.#forget(key);
        return null;
      }
      throw err;
    }
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    const path = this.#path(key);
    if (data.length > this.maxSize) {
      throw new TierFullError(key, data.length, this.maxSize);
    }
    const dir = path.slice(0, path.lastIndexOf("/"));
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    // write then rename: a crash leaves the old copy or the new, never half
    const tmp = `${dir}/.tmp-${crypto.randomUUID()}`;
    await Deno.writeFile(tmp, data, { mode: 0o600 });
    await Deno.rename(tmp, path);
    this.#remember(key, data.length);
    await this.#evict(key);
  }

  async delete(key: string): Promise<void> {
    this.#forget(key);
    await Deno.remove(this.#path(key)).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
  }

  has(key: string): Promise<boolean> {
    checkKey(key);
    return Promise.resolve(this.#lru.has(key));
  }

  list(prefix: string): Promise<string[]> {
    return Promise.resolve(
      [...this.#lru.keys()].filter((k) => k.startsWith(prefix)).sort(),
    );
  }

  /** Removes least recently used objects (never `keep`) past maxSize. */
  async #evict(keep?: string): Promise<void> {
    for (const key of [...this.#lru.keys()]) {
      if (this.#total <= this.maxSize) return;
      if (key === keep) continue;
      await this.delete(key);
      this.#evicted++;
    }
  }
}
