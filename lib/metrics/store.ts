/**
 * @module
 * The daemon's metrics history on disk, bounded by construction: per
 * target and tier one file of fixed size, a ring of slots indexed by step
 * number (10 s steps for 24 h, 5 min steps for 30 days: 8640 slots each).
 * A slot is its step number (uint32) and the METRICS values (float32):
 * 48 bytes, 415 KB per target and tier. A step overwrites its slot in
 * place with one positioned write, so the files never grow, and a restart
 * reads them back. Implements MetricsHistory for the dashboard and the CLI.
 */
import { realClock } from "../clock.ts";
import type { Clock } from "../clock.ts";
import { addStep, emptyStep, METRICS, type Step, valuesOf } from "./step.ts";
import type { MetricName, MetricsHistory, Point, Target } from "./types.ts";

/** One resolution of the store. */
export interface Tier {
  name: string;
  /** Step length in ms. */
  stepMs: number;
  /** Slots kept (history = stepMs x slots). */
  slots: number;
}

/** 10 s for 24 h, 5 min for 30 days. */
export const TIERS: readonly Tier[] = [
  { name: "10s", stepMs: 10_000, slots: 8640 },
  { name: "5m", stepMs: 300_000, slots: 8640 },
];

const FIELDS = 1 + METRICS.length;
const SLOT_BYTES = FIELDS * 4;

/** The ring of one target in one tier, mirrored in memory. */
class Ring {
  readonly buf: ArrayBuffer;
  readonly index: Uint32Array;
  readonly values: Float32Array;
  /** The newest step written, or -1. */
  newest = -1;

  constructor(readonly tier: Tier, readonly file: Deno.FsFile) {
    this.buf = new ArrayBuffer(tier.slots * SLOT_BYTES);
    this.index = new Uint32Array(this.buf);
    this.values = new Float32Array(this.buf);
  }

  /** Writes the values of step number `n` into its slot. */
  write(n: number, values: number[]): void {
    const slot = n % this.tier.slots;
    const at = slot * FIELDS;
    this.index[at] = n;
    for (let i = 0; i < METRICS.length; i++) {
      this.values[at + 1 + i] = values[i]!;
    }
    if (n > this.newest) this.newest = n;
    this.file.seekSync(slot * SLOT_BYTES, Deno.SeekMode.Start);
    const bytes = new Uint8Array(this.buf, slot * SLOT_BYTES, SLOT_BYTES);
    let done = 0;
    while (done < bytes.length) {
      done += this.file.writeSync(bytes.subarray(done));
    }
  }

  /** The values of step `n`, if its slot still holds it. */
  read(n: number): Float32Array | undefined {
    if (n < 0) return undefined;
    const at = (n % this.tier.slots) * FIELDS;
    if (this.index[at] !== n) return undefined;
    return this.values.subarray(at + 1, at + FIELDS);
  }
}

/** Options of the store. */
export interface MetricsStoreOptions {
  clock?: Clock;
  tiers?: readonly Tier[];
}

/** The on-disk history of every target. */
export class MetricsStore implements MetricsHistory {
  readonly #dir: string;
  readonly #clock: Clock;
  readonly #tiers: readonly Tier[];
  readonly #rings = new Map<Target, Ring[]>();
  /** Per target and coarse tier, the steps of its current window. */
  readonly #windows = new Map<string, { n: number; sum: Step }>();

  constructor(dir: string, opts: MetricsStoreOptions = {}) {
    this.#dir = dir;
    this.#clock = opts.clock ?? realClock;
    this.#tiers = opts.tiers ?? TIERS;
  }

  /** The finest step length in ms (the sampler's interval). */
  get stepMs(): number {
    return this.#tiers[0]!.stepMs;
  }

  /** Reads back every target's files. */
  open(): void {
    Deno.mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    for (const e of Deno.readDirSync(this.#dir)) {
      const m = /^(.+)\.(\w+)\.bin$/.exec(e.name);
      if (!m || !e.isFile) continue;
      const target = decodeURIComponent(m[1]!);
      if (!this.#rings.has(target)) this.#ringsOf(target);
    }
  }

  /** Closes the files; idempotent. */
  close(): void {
    for (const rings of this.#rings.values()) {
      for (const r of rings) {
        try {
          r.file.close();
        } catch (err) {
          if (!(err instanceof Deno.errors.BadResource)) throw err;
        }
      }
    }
    this.#rings.clear();
  }

  /**
   * Records the step of `target` that ended at `endMs`: its slot in the
   * finest tier, and the running sum of its window in each coarser one.
   */
  record(target: Target, endMs: number, step: Step): void {
    const rings = this.#ringsOf(target);
    const start = endMs - 1;
    rings[0]!.write(Math.floor(start / rings[0]!.tier.stepMs), valuesOf(step));
    for (let t = 1; t < rings.length; t++) {
      const ring = rings[t]!;
      const n = Math.floor(start / ring.tier.stepMs);
      const key = `${target}\n${t}`;
      let w = this.#windows.get(key);
      if (!w || w.n !== n) {
        w = { n, sum: emptyStep() };
        this.#windows.set(key, w);
      }
      addStep(w.sum, step);
      ring.write(n, valuesOf(w.sum, true));
    }
  }

  targets(): Target[] {
    return [...this.#rings.keys()];
  }

  range(
    target: Target,
    metric: MetricName,
    fromMs: number,
    toMs: number,
  ): Point[] {
    const rings = this.#rings.get(target);
    const m = METRICS.indexOf(metric);
    if (!rings || m < 0 || toMs < fromMs) return [];
    const now = this.#clock.now();
    // the coarsest tier that gives ~100 points, among those whose history
    // reaches back to `fromMs` (else the coarsest)
    const covering = rings.filter((r) =>
      now - r.tier.stepMs * r.tier.slots <= fromMs
    );
    const candidates = covering.length ? covering : [rings[rings.length - 1]!];
    let ring = candidates[0]!;
    for (const r of candidates) {
      if ((toMs - fromMs) / r.tier.stepMs >= 100) ring = r;
    }
    const step = ring.tier.stepMs;
    const first = Math.max(
      Math.floor(fromMs / step),
      ring.newest - ring.tier.slots + 1,
    );
    const last = Math.min(Math.floor(toMs / step), ring.newest);
    const out: Point[] = [];
    for (let n = first; n <= last; n++) {
      const v = ring.read(n)?.[m];
      if (v !== undefined && !Number.isNaN(v)) out.push([n * step, v]);
    }
    return out;
  }

  latest(target: Target): Partial<Record<MetricName, number>> {
    const ring = this.#rings.get(target)?.[0];
    const values = ring?.read(ring.newest);
    const out: Partial<Record<MetricName, number>> = {};
    if (!values) return out;
    METRICS.forEach((name, i) => {
      const v = values[i]!;
      if (!Number.isNaN(v)) out[name] = v;
    });
    return out;
  }

  #ringsOf(target: Target): Ring[] {
    let rings = this.#rings.get(target);
    if (rings) return rings;
    rings = this.#tiers.map((tier) => {
      const path = `${this.#dir}/${
        encodeURIComponent(target)
      }.${tier.name}.bin`;
      const file = Deno.openSync(path, {
        read: true,
        write: true,
        create: true,
        mode: 0o600,
      });
      const ring = new Ring(tier, file);
      const size = file.statSync().size;
      if (size === tier.slots * SLOT_BYTES) {
        const bytes = new Uint8Array(ring.buf);
        let done = 0;
        while (done < size) {
          const n = file.readSync(bytes.subarray(done));
          if (n === null) break;
          done += n;
        }
        for (let s = 0; s < tier.slots; s++) {
          const n = ring.index[s * FIELDS]!;
          if (n > ring.newest && n % tier.slots === s) ring.newest = n;
        }
      } else {
        // new, or written with another layout: start over at the full size
        file.truncateSync(tier.slots * SLOT_BYTES);
      }
      return ring;
    });
    this.#rings.set(target, rings);
    return rings;
  }
}
