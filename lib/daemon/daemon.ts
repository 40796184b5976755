/**
 * @module
 * The composition root of `mypaas server run`: builds every long-lived part
 * from the resolved config, starts them in order and stops them in reverse.
 */
import type { ResolvedConfig } from "../config/mod.ts";
import { type Logger, makeLogger } from "../log.ts";
import { DataDirLock } from "./data_dir_lock.ts";

/** A long-lived part of the daemon. `stop()` is idempotent and bounded. */
export interface Part {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Takes a reloaded config (SIGHUP, file change) without a restart. */
  reload?(config: ResolvedConfig): Promise<void>;
}

/**
 * Keys that bind listeners, sockets or directories: a reload keeps their old
 * values and says that they need a restart.
 */
export const RESTART_KEYS = {
  server: ["bind", "httpPort", "httpsPort", "dataDir", "controlSocket"],
  docker: ["socket", "network"],
  isolates: [
    "minWorkers",
    "maxWorkers",
    "isolatesPerProcess",
    "memoryLimit",
    "allowNet",
  ],
  cache: ["dir"],
} as const;

/** The running daemon. */
export class Daemon {
  readonly #parts: Part[] = [];
  readonly #started: Part[] = [];
  #lock: DataDirLock | null = null;
  readonly log: Logger;

  constructor(readonly config: ResolvedConfig, log?: Logger) {
    this.log = log ?? makeLogger("daemon");
  }

  /** Adds a part; parts start in the order added. */
  add<P extends Part>(part: P): P {
    this.#parts.push(part);
    return part;
  }

  /**
   * Takes the data dir's lock, then starts every part; on a failure stops
   * what started and rethrows. A data dir locked by another daemon throws
   * `DataDirLockedError` before any part has touched anything.
   */
  async start(): Promise<void> {
    await Deno.mkdir(this.config.server.dataDir, {
      recursive: true,
      mode: 0o700,
    });
    this.#lock ??= await DataDirLock.acquire(this.config.server.dataDir);
    for (const part of this.#parts) {
      try {
        await part.start();
      } catch (err) {
        this.log.error(
          `${part.name} failed to start: ${(err as Error).message}`,
        );
        await this.stop();
        throw err;
      }
      this.#started.push(part);
    }
  }

  /**
   * Applies a new config to the running daemon. Every part shares one
   * `ResolvedConfig` object, so its sections are updated in place; keys of
   * `RESTART_KEYS` keep their running values. Returns the keys that changed
   * but need a restart.
   */
  async reload(next: ResolvedConfig): Promise<string[]> {
    const pending: string[] = [];
    const current = this.config as unknown as Record<
      string,
      Record<string, unknown>
    >;
    const incoming = next as unknown as Record<string, Record<string, unknown>>;
    for (
      const section of [
        "server",
        "acme",
        "docker",
        "proxy",
        "isolates",
        "cache",
      ]
    ) {
      const keep: readonly string[] =
        RESTART_KEYS[section as keyof typeof RESTART_KEYS] ?? [];
      const merged = { ...incoming[section] };
      for (const key of keep) {
        if (
          JSON.stringify(merged[key]) !== JSON.stringify(current[section]![key])
        ) {
          pending.push(`[${section}] ${snake(key)}`);
        }
        merged[key] = current[section]![key];
      }
      Object.assign(current[section]!, merged);
    }
    this.config.env = next.env;
    if (pending.length) {
      this.log.warn(
        `config reloaded; these changes need a restart: ${pending.join(", ")}`,
      );
    } else {
      this.log.info("config reloaded");
    }
    for (const part of this.#started) {
      try {
        await part.reload?.(this.config);
      } catch (err) {
        this.log.error(
          `${part.name} failed to reload: ${(err as Error).message}`,
        );
      }
    }
    return pending;
  }

  /** Stops the started parts in reverse order, then lets the lock go. */
  async stop(): Promise<void> {
    while (this.#started.length) {
      const part = this.#started.pop()!;
      try {
        await part.stop();
      } catch (err) {
        this.log.error(
          `${part.name} failed to stop: ${(err as Error).message}`,
        );
      }
    }
    this.#lock?.release();
    this.#lock = null;
  }
}

/** `httpPort` -> `http_port`, as config.toml spells it. */
function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
