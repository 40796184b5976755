/**
 * @module
 * Writes to the bucket, queued on disk so a bucket that is down or refusing
 * loses nothing, across daemon restarts too. Each write is a file under
 * `dir` (`<seq>.put` holds the key and the bytes, `<seq>.del` the key),
 * written before the call returns; a later write of the same key replaces
 * the earlier one. One loop sends them oldest first and retries the failed
 * one with backoff (lib/backoff.ts); `idle()` resolves when the queue is
 * empty.
 */
import { Backoff } from "../backoff.ts";
import { type Clock, realClock } from "../clock.ts";
import type { BucketError } from "./s3_tier.ts";
import type { Tier } from "./tier.ts";

interface Pending {
  seq: number;
  op: "put" | "del";
  key: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The queue of writes to the bucket. */
export class UploadQueue {
  readonly #pending = new Map<string, Pending>();
  #seq = 0;
  #running = false;
  #stopped = false;
  #timer: unknown = null;
  #wake: (() => void) | null = null;
  readonly #idle: (() => void)[] = [];
  readonly #backoff = new Backoff({ baseMs: 200, maxMs: 30_000 });
  /** The last failure, until a write goes through. */
  lastError: BucketError | null = null;
  /** Writes sent since open. */
  sent = 0;

  private constructor(
    readonly dir: string,
    readonly bucket: Tier,
    readonly classify: (err: unknown) => BucketError,
    readonly clock: Clock,
    readonly onError: (err: BucketError | null) => void,
  ) {}

  /** Opens the queue at `dir`, reading back what a previous run left. */
  static async open(opts: {
    dir: string;
    bucket: Tier;
    classify: (err: unknown) => BucketError;
    clock?: Clock;
    /** Called on the first failure of a run of failures, and null when it works again. */
    onError?: (err: BucketError | null) => void;
  }): Promise<UploadQueue> {
    await Deno.mkdir(opts.dir, { recursive: true, mode: 0o700 });
    const q = new UploadQueue(
      opts.dir,
      opts.bucket,
      opts.classify,
      opts.clock ?? realClock,
      opts.onError ?? (() => {}),
    );
    const found: Pending[] = [];
    for await (const e of Deno.readDir(opts.dir)) {
      const m = /^(\d+)\.(put|del)$/.exec(e.name);
      if (!m) {
        // a write cut short by a crash before its rename
        await Deno.remove(`${opts.dir}/${e.name}`).catch(() => {});
        continue;
      }
      const seq = Number(m[1]);
      const key = await q.#readKey(seq, m[2] as "put" | "del");
      if (key !== null) found.push({ seq, op: m[2] as "put" | "del", key });
    }
    found.sort((a, b) => a.seq - b.seq);
    for (const p of found) {
      const old = q.#pending.get(p.key);
      if (old) await q.#drop(old);
      q.#pending.set(p.key, p);
      q.#seq = Math.max(q.#seq, p.seq);
    }
    return q;
  }

  /** Writes waiting for the bucket. */
  get size(): number {
    return this.#pending.size;
  }

  #file(p: { seq: number; op: string }): string {
    return `${this.dir}/${String(p.seq).padStart(12, "0")}.${p.op}`;
  }

  async #readKey(seq: number, op: "put" | "del"): Promise<string | null> {
    const data = await Deno.readFile(this.#file({ seq, op })).catch(() => null);
    if (!data) return null;
    const nl = data.indexOf(10);
    return nl < 0 ? null : dec.decode(data.subarray(0, nl));
  }

  async #drop(p: Pending): Promise<void> {
    await Deno.remove(this.#file(p)).catch(() => {});
  }

  /** Queues a put of `data` at `key` (durable when this resolves). */
  put(key: string, data: Uint8Array): Promise<void> {
    return this.#add("put", key, data);
  }

  /** Queues a delete of `key`. */
  delete(key: string): Promise<void> {
    return this.#add("del", key, new Uint8Array());
  }

  async #add(op: "put" | "del", key: string, data: Uint8Array): Promise<void> {
    const p: Pending = { seq: ++this.#seq, op, key };
    const head = enc.encode(key + "\n");
    const body = new Uint8Array(head.length + data.length);
    body.set(head);
    body.set(data, head.length);
    const tmp = `${this.dir}/.tmp-${p.seq}`;
    await Deno.writeFile(tmp, body, { mode: 0o600 });
    await Deno.rename(tmp, this.#file(p));
    const old = this.#pending.get(key);
    this.#pending.set(key, p);
    if (old) await this.#drop(old);
    this.start();
  }

  /** Starts (or wakes) the sending loop. */
  start(): void {
    if (this.#stopped) return;
    if (this.#wake) {
      this.#wake();
      return;
    }
    if (this.#running) return;
    this.#running = true;
    void this.#loop().finally(() => this.#running = false);
  }

  /** Retries now instead of waiting out the backoff. */
  retryNow(): void {
    this.#backoff.reset();
    this.#wake?.();
    this.start();
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      const next = this.#pending.values().next();
      if (next.done) {
        for (const r of this.#idle.splice(0)) r();
        return;
      }
      const p = next.value;
      try {
        if (p.op === "put") {
          const data = await Deno.readFile(this.#file(p));
          const nl = data.indexOf(10);
          await this.bucket.put(p.key, data.subarray(nl + 1));
        } else await this.bucket.delete(p.key);
        this.sent++;
        if (this.#pending.get(p.key) === p) this.#pending.delete(p.key);
        await this.#drop(p);
        if (this.lastError || this.sent === 1) {
          this.lastError = null;
          this.onError(null);
        }
        this.#backoff.reset();
      } catch (err) {
        // replaced by a later write meanwhile: that one is sent next
        if (this.#pending.get(p.key) !== p) continue;
        const e = this.classify(err);
        if (!this.lastError || this.lastError.state !== e.state) {
          this.onError(e);
        }
        this.lastError = e;
        const wait = this.#backoff.fail();
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          this.#timer = this.clock.setTimeout(resolve, wait);
        });
        this.clock.clearTimeout(this.#timer);
        this.#wake = null;
      }
    }
  }

  /** Resolves when nothing is pending. */
  idle(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  /** Stops sending (what is queued stays on disk for the next run). */
  stop(): void {
    this.#stopped = true;
    this.#wake?.();
    this.clock.clearTimeout(this.#timer);
  }
}
