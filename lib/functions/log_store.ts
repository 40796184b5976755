/**
 * @module
 * Console output of isolates, per function: a ring buffer in memory for
 * `logs` and followers, and an append-only file per function under
 * `<data_dir>/logs/functions/`. Each line names the release and the isolate.
 */

/** One stored line. */
export interface LogLine {
  time: number;
  deployment: string;
  isolate: string;
  level: string;
  msg: string;
}

/** Formats a line as `logs` prints it. */
export function formatLogLine(l: LogLine): string {
  return `${
    new Date(l.time).toISOString()
  } ${l.deployment} ${l.isolate} ${l.level}: ${l.msg}`;
}

/** Ring buffers and files of function logs. */
export class LogStore {
  readonly #rings = new Map<string, LogLine[]>();
  readonly #followers = new Map<string, Set<(l: LogLine) => void>>();
  #dirReady: Promise<void> | null = null;
  #writes: Promise<void> = Promise.resolve();

  constructor(readonly dir: string | null, readonly capacity = 1000) {}

  /** Adds a line of function `name`. */
  add(name: string, line: LogLine): void {
    let ring = this.#rings.get(name);
    if (!ring) this.#rings.set(name, ring = []);
    ring.push(line);
    if (ring.length > this.capacity) {
      ring.splice(0, ring.length - this.capacity);
    }
    for (const f of this.#followers.get(name) ?? []) f(line);
    if (this.dir) {
      const dir = this.dir;
      this.#dirReady ??= Deno.mkdir(dir, { recursive: true });
      const text = formatLogLine(line).replaceAll("\n", "\n  ") + "\n";
      this.#writes = this.#writes.then(() => this.#dirReady).then(() =>
        Deno.writeTextFile(`${dir}/${name}.log`, text, { append: true })
      ).catch(() => {});
    }
  }

  /** Resolves when every line added so far is on disk. */
  flushed(): Promise<void> {
    return this.#writes;
  }

  /** The last `tail` lines (all kept when omitted). */
  recent(name: string, tail?: number): LogLine[] {
    const ring = this.#rings.get(name) ?? [];
    return tail === undefined ? [...ring] : ring.slice(-tail);
  }

  /** Lines as they come, until `signal` aborts. */
  async *follow(name: string, signal?: AbortSignal): AsyncIterable<LogLine> {
    const queue: LogLine[] = [];
    let wake: (() => void) | null = null;
    const push = (l: LogLine) => {
      queue.push(l);
      wake?.();
    };
    let set = this.#followers.get(name);
    if (!set) this.#followers.set(name, set = new Set());
    set.add(push);
    const onAbort = () => wake?.();
    signal?.addEventListener("abort", onAbort);
    try {
      while (!signal?.aborted) {
        if (queue.length) {
          yield queue.shift()!;
          continue;
        }
        await new Promise<void>((r) => wake = r);
        wake = null;
      }
    } finally {
      set.delete(push);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Forgets a removed function's buffer (its file stays). */
  forget(name: string): void {
    this.#rings.delete(name);
  }
}
