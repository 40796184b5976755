/**
 * @module
 * Ships container stdout/stderr as OTLP log records while telemetry
 * exports: every `intervalMs` it lists this daemon's running containers and
 * follows the output of each new one: from now on for those running when
 * the daemon started (no replay of old lines), from their first line for
 * those started since. A container that went away ends its follower. Does nothing without an
 * endpoint.
 */
import type { ContainerRuntime } from "../docker/mod.ts";
import type { Logger } from "../log.ts";
import { LABEL } from "../services/mod.ts";
import type { LogRecordIn } from "../telemetry/types.ts";

/** Options of the shipper. */
export interface ContainerLogsOptions {
  runtime: ContainerRuntime;
  owner: string;
  /** Where records go; undefined while telemetry is off. */
  sink: () => ((r: LogRecordIn) => void) | undefined;
  log: Logger;
  intervalMs?: number;
}

/** The daemon part. */
export class ContainerLogs {
  readonly name = "container-logs";
  readonly #followed = new Map<string, AbortController>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #scanned = false;

  constructor(readonly opts: ContainerLogsOptions) {}

  start(): Promise<void> {
    if (!this.opts.sink()) return Promise.resolve();
    void this.#scan();
    this.#timer = setInterval(
      () => void this.#scan(),
      this.opts.intervalMs ?? 10_000,
    );
    return Promise.resolve();
  }

  stop(): Promise<void> {
    clearInterval(this.#timer);
    for (const ac of this.#followed.values()) ac.abort();
    this.#followed.clear();
    return Promise.resolve();
  }

  async #scan(): Promise<void> {
    let list;
    try {
      list = await this.opts.runtime.list({ [LABEL.owner]: this.opts.owner });
    } catch {
      return; // Docker down: the containers part says so
    }
    const running = new Set<string>();
    for (const c of list) {
      if (c.state !== "running" || !c.labels[LABEL.service]) continue;
      running.add(c.id);
      if (this.#followed.has(c.id)) continue;
      const ac = new AbortController();
      this.#followed.set(c.id, ac);
      void this.#follow(c.id, this.#scanned ? undefined : 0, {
        "mypaas.service": c.labels[LABEL.service]!,
        "mypaas.release": c.labels[LABEL.release] ?? "",
        "service.instance.id": c.name,
      }, ac.signal);
    }
    this.#scanned = true;
    for (const [id, ac] of this.#followed) {
      if (!running.has(id)) {
        ac.abort();
        this.#followed.delete(id);
      }
    }
  }

  async #follow(
    id: string,
    tail: number | undefined,
    attrs: Record<string, string>,
    signal: AbortSignal,
  ): Promise<void> {
    try {
      for await (
        const l of this.opts.runtime.logs(id, {
          follow: true,
          signal,
          ...(tail !== undefined ? { tail } : {}),
        })
      ) {
        const sink = this.opts.sink();
        if (!sink) break;
        sink({
          time: Date.now(),
          level: l.stream === "stderr" ? "warn" : "info",
          body: l.line,
          attrs: { ...attrs, "log.iostream": l.stream },
        });
      }
    } catch (err) {
      if (!signal.aborted) {
        this.opts.log.debug(`following ${id} ended: ${(err as Error).message}`);
      }
    } finally {
      // ended on its own (container stopped): the next scan may follow again
      if (!signal.aborted) this.#followed.delete(id);
    }
  }
}
