/**
 * @module
 * The composition root of `mypaas server run`: builds every long-lived part
 * from the resolved config, starts them in order and stops them in reverse.
 */
import type { ResolvedConfig } from "../config/mod.ts";
import { type Logger, makeLogger } from "../log.ts";

/** A long-lived part of the daemon. `stop()` is idempotent and bounded. */
export interface Part {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The running daemon. */
export class Daemon {
  readonly #parts: Part[] = [];
  readonly #started: Part[] = [];
  readonly log: Logger;

  constructor(readonly config: ResolvedConfig, log?: Logger) {
    this.log = log ?? makeLogger("daemon");
  }

  /** Adds a part; parts start in the order added. */
  add<P extends Part>(part: P): P {
    this.#parts.push(part);
    return part;
  }

  /** Starts every part; on a failure stops what started and rethrows. */
  async start(): Promise<void> {
    await Deno.mkdir(this.config.server.dataDir, {
      recursive: true,
      mode: 0o700,
    });
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

  /** Stops the started parts in reverse order. */
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
  }
}
