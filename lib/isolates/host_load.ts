/**
 * @module
 * Host CPU and memory use, sampled from /proc, for the pool's
 * `cluster_cpu_pct_target` / `cluster_memory_pct_target` gate: above a target
 * no new isolate starts.
 */

/** Fractions 0..1 of the host's CPU and memory in use. */
export interface Load {
  cpu: number;
  mem: number;
}

/** Where the pool reads the host's load from (fakeable in tests). */
export type LoadSource = () => Load;

function readCpu(): { busy: number; total: number } | null {
  try {
    const line = Deno.readTextFileSync("/proc/stat").split("\n")[0] ?? "";
    const n = line.trim().split(/\s+/).slice(1).map(Number);
    const total = n.reduce((a, b) => a + b, 0);
    const idle = (n[3] ?? 0) + (n[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

function readMem(): number {
  try {
    const text = Deno.readTextFileSync("/proc/meminfo");
    const kb = (key: string) =>
      Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
    const total = kb("MemTotal");
    return total ? 1 - kb("MemAvailable") / total : 0;
  } catch {
    return 0;
  }
}

/** Samples /proc every `intervalMs`; `current()` is the last sample. */
export class HostLoad {
  #timer: ReturnType<typeof setInterval> | null = null;
  #last: { busy: number; total: number } | null = null;
  #load: Load = { cpu: 0, mem: 0 };

  constructor(readonly intervalMs = 1000) {}

  /** The last sampled load. */
  readonly current: LoadSource = () => this.#load;

  #sample(): void {
    const now = readCpu();
    if (now && this.#last && now.total > this.#last.total) {
      this.#load = {
        cpu: (now.busy - this.#last.busy) / (now.total - this.#last.total),
        mem: readMem(),
      };
    } else this.#load = { cpu: this.#load.cpu, mem: readMem() };
    this.#last = now;
  }

  start(): Promise<void> {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), this.intervalMs);
    return Promise.resolve();
  }

  stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    return Promise.resolve();
  }
}
