/**
 * @module
 * Feeds the AcmeManager the domains that need certificates: polls a cheap
 * source (the router's https hosts) and calls `ensure()` when the set
 * changes. Polling keeps the proxy free of a change-event API; a table of
 * 1000 hosts costs a few microseconds per poll.
 */
import { RepeatLog } from "../backoff.ts";
import type { Logger } from "../log.ts";
import { silentLogger } from "../log.ts";

/** Who wants the domain list (the AcmeManager). */
export interface DomainSink {
  ensure(domains: string[]): Promise<void>;
}

/** Options of a DomainWatch. */
export interface DomainWatchOptions {
  /** The current hosts; called every `interval`. */
  source: () => Iterable<string>;
  sink: DomainSink;
  /** Names always wanted (the admin domain). */
  always?: string[];
  /** Poll interval (ms). */
  interval?: number;
  log?: Logger;
}

/** Polls a domain source and tells the sink about changes. */
export class DomainWatch {
  readonly name = "acme-domains";
  readonly #opts: DomainWatchOptions;
  readonly #log: Logger;
  #last = "";
  #timer: ReturnType<typeof setInterval> | undefined;
  #busy: Promise<void> | undefined;

  constructor(opts: DomainWatchOptions) {
    this.#opts = opts;
    this.#log = opts.log ?? silentLogger;
  }

  /**
   * Starts syncing in the background, then polls. The first sync may create
   * many placeholder certificates; the daemon need not wait for them (the
   * proxy answers unknown names with its default certificate meanwhile).
   */
  start(): Promise<void> {
    // a sync that keeps failing is logged once a minute, with a count
    const failures = new RepeatLog((m) => this.#log.error(m));
    const syncLogged = () =>
      this.sync().then(
        () => {
          const failed = failures.ok();
          if (failed) {
            this.#log.info(
              `Domain sync works again after ${failed} failures`,
            );
          }
        },
        (err) => failures.fail(`Domain sync failed: ${(err as Error).message}`),
      );
    syncLogged();
    this.#timer ??= setInterval(syncLogged, this.#opts.interval ?? 2_000);
    return Promise.resolve();
  }

  /** Stops polling; idempotent. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#busy?.catch(() => {});
  }

  /** Reads the source now and calls the sink if the set changed. */
  sync(): Promise<void> {
    if (this.#busy) return this.#busy;
    const names = new Set<string>(this.#opts.always ?? []);
    for (const h of this.#opts.source()) names.add(h.toLowerCase());
    const list = [...names].sort();
    const key = list.join(" ");
    if (key === this.#last) return Promise.resolve();
    this.#busy = this.#opts.sink.ensure(list).then(() => {
      this.#last = key;
    }).finally(() => {
      this.#busy = undefined;
    });
    return this.#busy;
  }
}
