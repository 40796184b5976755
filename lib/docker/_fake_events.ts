/**
 * @module
 * The event side of FakeRuntime: what it emits (every action, and "log"
 * for each log line), a bounded history for `sinceMs`, label-filtered event
 * streams that end on abort, and a wait for a container's next event (what
 * a followed log waits on).
 */
import type { ContainerDetails, RuntimeEvent } from "./runtime.ts";
import { matches } from "./_fake_parts.ts";

/** The fake engine's event bus. */
export class FakeEvents {
  readonly #listeners = new Set<(e: RuntimeEvent) => void>();
  readonly #history: RuntimeEvent[] = [];

  /** Listeners attached now (streams and followed logs). */
  get listeners(): number {
    return this.#listeners.size;
  }

  /** Tells every listener; actions other than "log" are kept in history. */
  emit(action: string, c: ContainerDetails): void {
    const e: RuntimeEvent = {
      action,
      id: c.id,
      name: c.name,
      labels: { ...c.labels },
      time: Date.now(),
    };
    if (action !== "log") {
      this.#history.push(e);
      if (this.#history.length > 1000) this.#history.shift();
    }
    for (const l of [...this.#listeners]) l(e);
  }

  /** Events whose labels match, from `sinceMs` (history) on, until abort. */
  async *stream(
    labels: Record<string, string | true>,
    signal: AbortSignal,
    opts: { sinceMs?: number } = {},
  ): AsyncIterable<RuntimeEvent> {
    const since = opts.sinceMs;
    const queue: RuntimeEvent[] = since === undefined ? [] : this.#history
      .filter((e) => e.time >= since && matches(e.labels, labels));
    let wake: (() => void) | undefined;
    const listener = (e: RuntimeEvent) => {
      if (e.action === "log" || !matches(e.labels, labels)) return;
      queue.push(e);
      wake?.();
    };
    const onAbort = () => wake?.();
    this.#listeners.add(listener);
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        if (queue.length) {
          yield queue.shift()!;
          continue;
        }
        await new Promise<void>((r) => wake = r);
        wake = undefined;
      }
    } finally {
      this.#listeners.delete(listener);
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Resolves on the container's next event, or on abort. */
  next(id: string, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const l = (e: RuntimeEvent) => {
        if (e.id !== id) return;
        this.#listeners.delete(l);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const done = () => {
        this.#listeners.delete(l);
        resolve();
      };
      this.#listeners.add(l);
      signal?.addEventListener("abort", done, { once: true });
    });
  }
}
