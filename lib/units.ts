/**
 * @module
 * Pure parsers for the units used by config.toml and mypaas comments:
 * durations (`500ms`, `5s`, `2m`, `1h`), byte sizes (`512M`, `1g`, `100MiB`)
 * and CPU amounts (`0.5`, `500m`). Each returns `undefined` on bad input so
 * that the caller can word the error with its own file, line and key.
 */

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const DURATION_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses `500ms`, `5s`, `1.5m`, `1h` into milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * DURATION_MS[m[2]!]!);
}

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)$/i;
const SIZE_POW: Record<string, number> = { "": 0, k: 1, m: 2, g: 3, t: 4 };

/**
 * Parses a byte size. Suffixes k/m/g/t (optionally followed by `b` or `ib`)
 * are binary multiples, as Docker reads `--memory 512m`.
 */
export function parseSize(text: string): number | undefined {
  const m = SIZE.exec(text.trim());
  if (!m) return undefined;
  const pow = SIZE_POW[m[2]!.toLowerCase()]!;
  const bytes = Math.round(Number(m[1]) * 1024 ** pow);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** Formats bytes as `parseSize` and Docker read them: `10m`, `1.5g`, `512`. */
export function formatSize(bytes: number): string {
  for (const [unit, pow] of [["t", 4], ["g", 3], ["m", 2], ["k", 1]] as const) {
    const size = 1024 ** pow;
    if (bytes >= size) return `${Number((bytes / size).toFixed(2))}${unit}`;
  }
  return String(bytes);
}

/** Parses CPUs as a number (`0.5`, `2`) or millicores (`500m`). */
export function parseCpu(text: string): number | undefined {
  const t = text.trim();
  const milli = /^(\d+)m$/.exec(t);
  if (milli) return Number(milli[1]) / 1000;
  if (!/^\d+(?:\.\d+)?$/.test(t)) return undefined;
  const n = Number(t);
  return n > 0 ? n : undefined;
}

/** Formats milliseconds the way the parsers read them back. */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
