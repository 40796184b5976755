/**
 * @module
 * The two-tier store: local disk (lib/cache/disk_tier.ts) in front of an
 * optional bucket (lib/cache/s3_tier.ts), writes to the bucket through a
 * durable queue (lib/cache/upload_queue.ts). Every object is sealed: its
 * sha256 (hex) and a newline before the bytes, checked on each read, so a
 * corrupt local copy is dropped and fetched again from the bucket.
 * Content-addressed blobs (`putBlob`) live at `cas/<sha256>`.
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import { DiskTier, TierFullError } from "./disk_tier.ts";
import { type BucketState, type S3Options, S3Tier } from "./s3_tier.ts";
import { checkKey } from "./tier.ts";
import { UploadQueue } from "./upload_queue.ts";

/** How to open the store. */
export interface CacheStoreOptions {
  /** The local tier's dir. */
  dir: string;
  maxSize: number;
  /** The bucket, or null for a local-only cache. */
  s3: S3Options | null;
  log: Logger;
  clock?: Clock;
}

/** What `mypaas server cache` shows. */
export interface CacheStatus {
  local: {
    dir: string;
    size: number;
    maxSize: number;
    entries: number;
    evicted: number;
  };
  bucket: null | {
    where: string;
    state: BucketState;
    error: string | null;
    pending: number;
    sent: number;
  };
  hits: number;
  misses: number;
  /** Reads served by the bucket (local copy missing or corrupt). */
  bucketHits: number;
  corrupt: number;
}

const enc = new TextEncoder();

/** sha256 of `data` as hex. */
export async function sha256(data: Uint8Array): Promise<string> {
  const d = new Uint8Array(
    await crypto.subtle.digest("SHA-256", data as BufferSource),
  );
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function seal(data: Uint8Array): Promise<Uint8Array> {
  const head = enc.encode((await sha256(data)) + "\n");
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

/** The payload of a sealed object, or null when its hash does not match. */
async function unseal(
  sealed: Uint8Array,
  want?: string,
): Promise<Uint8Array | null> {
  if (sealed.length < 65 || sealed[64] !== 10) return null;
  const hash = new TextDecoder().decode(sealed.subarray(0, 64));
  const data = sealed.subarray(65);
  if (want !== undefined && hash !== want) return null;
  return (await sha256(data)) === hash ? data : null;
}

/** The cache: local disk, then the bucket. */
export class CacheStore {
  #state: BucketState = "ok";
  #hits = 0;
  #misses = 0;
  #bucketHits = 0;
  #corrupt = 0;

  private constructor(
    readonly local: DiskTier,
    readonly bucket: S3Tier | null,
    readonly queue: UploadQueue | null,
    readonly log: Logger,
  ) {}

  /** Opens both tiers; a bucket that fails its check is logged, not fatal. */
  static async open(o: CacheStoreOptions): Promise<CacheStore> {
    const local = await DiskTier.open(`${o.dir}/objects`, o.maxSize);
    let bucket: S3Tier | null = null, queue: UploadQueue | null = null;
    if (o.s3) {
      bucket = new S3Tier(o.s3);
      const b = bucket;
      let store: CacheStore | null = null;
      queue = await UploadQueue.open({
        dir: `${o.dir}/pending`,
        bucket: b,
        classify: (e) => b.classify(e),
        ...(o.clock ? { clock: o.clock } : {}),
        onError: (e) => {
          const was = store ? store.#state : "ok";
          if (store) store.#state = e ? e.state : "ok";
          if (e) o.log.warn(`cache: ${e.message}; writes are queued on disk`);
          else if (was !== "ok") {
            o.log.info(`cache: ${b.where} works again; sending queued writes`);
          }
        },
      });
      store = new CacheStore(local, bucket, queue, o.log);
      await store.checkBucket(true);
      queue.start();
      return store;
    }
    return new CacheStore(local, null, null, o.log);
  }

  /** Checks the bucket now; `log` writes its one line when it fails. */
  async checkBucket(log = false): Promise<BucketState> {
    if (!this.bucket) return "ok";
    try {
      this.#state = await this.bucket.check();
      if (log) this.log.info(`cache: using ${this.bucket.where}`);
    } catch (err) {
      const e = this.bucket.classify(err);
      this.#state = e.state;
      if (log) {
        this.log.error(
          `cache: ${e.message}; the cache stays local and writes are queued until it works`,
        );
      }
    }
    return this.#state;
  }

  /** The payload at `key`: local tier, else the bucket (refilling local). */
  async get(key: string, hash?: string): Promise<Uint8Array | null> {
    checkKey(key);
    const sealed = await this.local.get(key);
    if (sealed) {
      const data = await unseal(sealed, hash);
      if (data) {
        this.#hits++;
        return data;
      }
      this.#corrupt++;
      this.log.warn(`cache: local copy of "${key}" is corrupt; dropped`);
      await this.local.delete(key);
    }
    if (this.bucket) {
      const remote = await this.bucket.get(key).catch((err) => {
        this.log.warn(
          `cache: reading "${key}": ${this.bucket!.classify(err).message}`,
        );
        return null;
      });
      if (remote) {
        const data = await unseal(remote, hash);
        if (data) {
          this.#bucketHits++;
          await this.#keepLocal(key, remote);
          return data;
        }
        this.log.warn(`cache: bucket copy of "${key}" is corrupt; ignored`);
      }
    }
    this.#misses++;
    return null;
  }

  async #keepLocal(key: string, sealed: Uint8Array): Promise<boolean> {
    try {
      await this.local.put(key, sealed);
      return true;
    } catch (err) {
      if (err instanceof TierFullError && this.queue) return false;
      throw err;
    }
  }

  /** Stores `data` at `key` in both tiers (the bucket's copy is queued). */
  async put(key: string, data: Uint8Array): Promise<void> {
    checkKey(key);
    const sealed = await seal(data);
    await this.#keepLocal(key, sealed);
    await this.queue?.put(key, sealed);
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    await this.local.delete(key);
    await this.queue?.delete(key);
  }

  async has(key: string): Promise<boolean> {
    if (await this.local.has(key)) return true;
    if (!this.bucket) return false;
    return await this.bucket.has(key).catch(() => false);
  }

  /** Keys under `prefix` in either tier (the bucket's when reachable). */
  async list(prefix: string): Promise<string[]> {
    const keys = new Set(await this.local.list(prefix));
    if (this.bucket) {
      const remote = await this.bucket.list(prefix).catch(() => []);
      for (const k of remote) keys.add(k);
    }
    return [...keys].sort();
  }

  /** Stores a blob under its own hash; returns the hash. */
  async putBlob(data: Uint8Array): Promise<string> {
    const hash = await sha256(data);
    const key = `cas/${hash}`;
    if (!(await this.local.has(key))) await this.put(key, data);
    return hash;
  }

  /** The blob with this hash (verified), or null. */
  getBlob(hash: string): Promise<Uint8Array | null> {
    if (!/^[0-9a-f]{64}$/.test(hash)) {
      throw new TypeError(`bad blob hash "${hash}"`);
    }
    return this.get(`cas/${hash}`, hash);
  }

  /** Both tiers' numbers. */
  status(): CacheStatus {
    return {
      local: {
        dir: this.local.dir,
        size: this.local.size,
        maxSize: this.local.maxSize,
        entries: this.local.entries,
        evicted: this.local.evicted,
      },
      bucket: this.bucket && this.queue
        ? {
          where: this.bucket.where,
          state: this.#state,
          error: this.queue.lastError?.message ?? null,
          pending: this.queue.size,
          sent: this.queue.sent,
        }
        : null,
      hits: this.#hits,
      misses: this.#misses,
      bucketHits: this.#bucketHits,
      corrupt: this.#corrupt,
    };
  }

  /** Resolves when every queued write has reached the bucket. */
  flushed(): Promise<void> {
    return this.queue?.idle() ?? Promise.resolve();
  }

  /** Stops the upload loop; what is queued stays on disk. */
  stop(): void {
    this.queue?.stop();
  }
}
