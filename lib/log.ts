/**
 * @module
 * A tiny structured logger: one line per event on stderr, `LEVEL scope: msg`.
 * The daemon's parts take a Logger so tests can capture or silence them.
 */

/** Log levels in order. */
export type Level = "debug" | "info" | "warn" | "error";

/** What the parts of the daemon log through. */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  child(scope: string): Logger;
}

const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A logger writing to stderr; `min` filters lower levels. */
export function makeLogger(
  scope: string,
  min: Level = "info",
  sink?: (line: string) => void,
): Logger {
  const write = sink ??
    ((line: string) =>
      Deno.stderr.writeSync(new TextEncoder().encode(line + "\n")));
  const at = (level: Level) => (msg: string) => {
    if (ORDER[level] >= ORDER[min]) {
      write(
        `${new Date().toISOString()} ${level.toUpperCase()} ${scope}: ${msg}`,
      );
    }
  };
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (sub) => makeLogger(`${scope}/${sub}`, min, write),
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = makeLogger("silent", "error", () => {});
