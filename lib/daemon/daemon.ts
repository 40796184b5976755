/**
 * @module
 * The composition root of `mypaas server run`: builds every long-lived part
 * from the resolved config, starts them in order and stops them in reverse.
 */
import {
  type ResolvedConfig,
  restartKeys,
  SCHEMA,
  type SectionName,
} from "../config/mod.ts";
import { type Logger, makeLogger } from "../log.ts";
import { DataDirLock } from "./data_dir_lock.ts";
import { warnLoosePaths } from "./private_paths.ts";

/** A long-lived part of the daemon. `stop()` is idempotent and bounded. */
export interface Part {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Takes a reloaded config (SIGHUP, file change) without a restart. */
  reload?(config: ResolvedConfig): Promise<void>;
}

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
    await warnLoosePaths(this.config, this.log).catch((err) =>
      this.log.warn(`checking the data dir's modes failed: ${err.message}`)
    );
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
   * `ResolvedConfig` object, so its sections are updated in place; the keys
   * the schema marks `restart` keep their running values. Returns the keys
   * that changed but need a restart (`[section] key`), which are logged.
   */
  async reload(next: ResolvedConfig): Promise<string[]> {
    const pending: string[] = [];
    const current = this.config as unknown as Record<
      string,
      Record<string, unknown>
    >;
    const incoming = next as unknown as Record<string, Record<string, unknown>>;
    for (const section of Object.keys(SCHEMA) as SectionName[]) {
      const merged = { ...incoming[section] };
      for (const key of restartKeys(section)) {
        const prop = camel(key);
        if (
          JSON.stringify(merged[prop]) !==
            JSON.stringify(current[section]![prop])
        ) {
          pending.push(`[${section}] ${key}`);
        }
        merged[prop] = current[section]![prop];
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

/** `http_port` -> `httpPort`, as `ResolvedConfig` spells it. */
function camel(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
