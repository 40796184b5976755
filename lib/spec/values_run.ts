/**
 * @module
 * Value parsers for how a deployment runs: `service`, `scale`,
 * `healthcheck`/`liveness`/`readiness`, `maxcpu`, `maxmem`, `autoscale`,
 * `sticky`, `hash`, `request`, `logs`, `idle` and `entrypoint`. Units come from
 * lib/units.ts: durations ms/s/m/h, sizes k/m/g/t, CPUs cores or `500m`.
 */
import { parseCpu, parseDuration, parseSize } from "../units.ts";
import { KEYS } from "./keys.ts";
import type { HttpCheck, LogsSpec, ServiceSpec } from "./types.ts";
import { type At, needs } from "./_fail.ts";

/** Most replicas `scale` and `autoscale` accept. */
export const MAX_REPLICAS = 1000;
/** Docker refuses a memory limit below 6 MiB. */
export const MIN_MEMORY = 6 * 1024 * 1024;

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Service-name sanitising as MyPaas does it: lower case, every run of
 * characters outside `[a-z0-9-]` becomes "-", dashes trimmed, at most 63
 * characters. "" when nothing usable is left.
 */
export function sanitizeName(raw: string): string {
  return raw.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+/, "")
    .slice(0, 63).replace(/-+$/, "");
}

/** `mypaas.service`: a name, sanitised. */
export function parseService(value: string, at: At): string {
  const name = sanitizeName(value);
  if (!name) {
    throw needs(
      at,
      "a name",
      value,
      "nothing of [a-z0-9-] is left after sanitising",
    );
  }
  return name;
}

function count(text: string): number | undefined {
  if (!/^\d{1,4}$/.test(text)) return undefined;
  return Number(text);
}

/** `mypaas.scale`: `0` (recreate one), `N` or `roll N` (rolling), `safe N`. */
export function parseScale(value: string, at: At): ServiceSpec["scale"] {
  const m = /^(?:(roll|safe)\s+)?(\d+)$/.exec(value);
  const n = m ? count(m[2]!) : undefined;
  if (!m || n === undefined) throw needs(at, KEYS.scale.grammar, value);
  if (n === 0 && !m[1]) return { strategy: "recreate", replicas: 1 };
  if (n < 1 || n > MAX_REPLICAS) {
    throw needs(
      at,
      KEYS.scale.grammar,
      value,
      `N runs from 1 to ${MAX_REPLICAS}`,
    );
  }
  return { strategy: m[1] === "safe" ? "safe" : "rolling", replicas: n };
}

/** `/path interval timeout`, for healthcheck, liveness and readiness. */
export function parseCheck(value: string, at: At): HttpCheck {
  const grammar = `"/path interval timeout"`;
  const parts = value.split(/\s+/);
  if (parts.length !== 3) throw needs(at, grammar, value);
  const [path, interval, timeout] = parts as [string, string, string];
  if (!path.startsWith("/")) {
    throw needs(at, grammar, value, `the path must start with "/"`);
  }
  const intervalMs = parseDuration(interval);
  const timeoutMs = parseDuration(timeout);
  if (intervalMs === undefined || timeoutMs === undefined) {
    throw needs(at, grammar, value, "durations are like 500ms, 5s, 1m, 1h");
  }
  if (intervalMs <= 0 || timeoutMs <= 0) {
    throw needs(at, grammar, value, "durations must be above zero");
  }
  if (timeoutMs > intervalMs) {
    throw needs(at, grammar, value, "the timeout must not exceed the interval");
  }
  return { path, intervalMs, timeoutMs };
}

/** `mypaas.maxcpu`: cores (`0.5`, `2`) or millicores (`500m`), above zero. */
export function parseMaxCpu(value: string, at: At): number {
  const cpu = parseCpu(value);
  if (cpu === undefined || cpu <= 0 || cpu > 1024) {
    throw needs(at, KEYS.maxcpu.grammar, value);
  }
  return cpu;
}

/** `mypaas.maxmem`: a size (`512m`, `1.5g`), at least 6 MiB. */
export function parseMaxMem(value: string, at: At): number {
  const bytes = parseSize(value);
  if (bytes === undefined) throw needs(at, KEYS.maxmem.grammar, value);
  if (bytes < MIN_MEMORY) {
    throw needs(at, KEYS.maxmem.grammar, value, "Docker needs at least 6m");
  }
  return bytes;
}

/** Splits `a=1 b=2` into pairs, refusing unknown or repeated names. */
function options(
  tokens: string[],
  names: readonly string[],
  fail: (why: string) => Error,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const t of tokens) {
    const eq = t.indexOf("=");
    const name = eq > 0 ? t.slice(0, eq) : "";
    if (!names.includes(name)) {
      throw fail(
        `${JSON.stringify(t)} is not one of ${
          names.map((n) => `${n}=`).join(", ")
        }`,
      );
    }
    if (out.has(name)) throw fail(`${name}= is given twice`);
    out.set(name, t.slice(eq + 1));
  }
  return out;
}

function percent(text: string): number | undefined {
  const m = /^(\d{1,3})%?$/.exec(text);
  const n = m ? Number(m[1]) : NaN;
  return n >= 1 && n <= 100 ? n : undefined;
}

/** `mypaas.autoscale=min..max [cpu=80%] [mem=80%]`; a metric left out is 80%. */
export function parseAutoscale(
  value: string,
  at: At,
): NonNullable<ServiceSpec["autoscale"]> {
  const grammar = KEYS.autoscale.grammar;
  const fail = (why?: string) => needs(at, grammar, value, why);
  const [range = "", ...rest] = value.split(/\s+/);
  const m = /^(\d+)\.\.(\d+)$/.exec(range);
  const min = m ? count(m[1]!) : undefined;
  const max = m ? count(m[2]!) : undefined;
  if (min === undefined || max === undefined) throw fail();
  if (min < 1 || max > MAX_REPLICAS || min > max) {
    throw fail(`1 <= min <= max <= ${MAX_REPLICAS}`);
  }
  const opts = options(rest, ["cpu", "mem"], fail);
  const pct = (name: string) => {
    const text = opts.get(name);
    if (text === undefined) return 80;
    const n = percent(text);
    if (n === undefined) {
      throw fail(`${name}= takes a percentage from 1% to 100%`);
    }
    return n;
  };
  return { min, max, cpuPct: pct("cpu"), memPct: pct("mem") };
}

/** A max-age: a duration (`1h`) or whole seconds (`3600`), above zero. */
function seconds(text: string): number | undefined {
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : parseDuration(text);
  if (ms === undefined || !Number.isSafeInteger(ms)) return undefined;
  const s = Math.round(ms / 1000);
  return s >= 1 ? s : undefined;
}

/** Cookie name used by `mypaas.sticky=cookie`. */
export const DEFAULT_STICKY_COOKIE = "mypaas_sticky";

/** `mypaas.sticky=cookie[:NAME] [max-age]`. */
export function parseSticky(
  value: string,
  at: At,
): NonNullable<ServiceSpec["sticky"]> {
  const fail = (why?: string) => needs(at, KEYS.sticky.grammar, value, why);
  const parts = value.split(/\s+/);
  if (parts.length > 2) throw fail();
  const m = /^cookie(?::(.*))?$/.exec(parts[0]!);
  if (!m) throw fail();
  const cookie = m[1] ?? DEFAULT_STICKY_COOKIE;
  if (!COOKIE_NAME.test(cookie)) throw fail("not a valid cookie name");
  if (parts[1] === undefined) return { cookie };
  const maxAgeS = seconds(parts[1]);
  if (maxAgeS === undefined) {
    throw fail("max-age is a duration such as 1h or whole seconds, above zero");
  }
  return { cookie, maxAgeS };
}

/** `mypaas.hash=header:NAME | cookie:NAME | ip`. Header names are lower-cased. */
export function parseHash(
  value: string,
  at: At,
): NonNullable<ServiceSpec["hash"]> {
  if (value === "ip") return { by: "ip" };
  const m = /^(header|cookie):(.+)$/.exec(value);
  if (!m || !COOKIE_NAME.test(m[2]!)) throw needs(at, KEYS.hash.grammar, value);
  const by = m[1] as "header" | "cookie";
  return { by, name: by === "header" ? m[2]!.toLowerCase() : m[2]! };
}

/** `mypaas.request=cpu=100m mem=128M` (reservations; either part). */
export function parseRequest(
  value: string,
  at: At,
): NonNullable<ServiceSpec["request"]> {
  const fail = (why?: string) => needs(at, KEYS.request.grammar, value, why);
  if (value === "") throw fail();
  const opts = options(value.split(/\s+/), ["cpu", "mem"], fail);
  const out: NonNullable<ServiceSpec["request"]> = {};
  const cpu = opts.get("cpu");
  if (cpu !== undefined) {
    const n = parseCpu(cpu);
    if (n === undefined || n <= 0) throw fail("cpu= takes cores or millicores");
    out.cpu = n;
  }
  const mem = opts.get("mem");
  if (mem !== undefined) {
    const n = parseSize(mem);
    if (n === undefined || n <= 0) throw fail("mem= takes a size such as 128M");
    out.mem = n;
  }
  return out;
}

/** Most log files `mypaas.logs` may keep, as `[docker] log_max_files`. */
export const MAX_LOG_FILES = 100;

/**
 * `mypaas.logs=SIZE COUNT`: json-file rotation at SIZE (at least 1k, as
 * Docker wants), COUNT files kept (1 to 100). Whether SIZE x COUNT fits
 * `[docker] log_max_total` is the deploy's check: config is not seen here.
 */
export function parseLogs(value: string, at: At): LogsSpec {
  const fail = (why?: string) => needs(at, KEYS.logs.grammar, value, why);
  const parts = value.split(/\s+/);
  if (parts.length !== 2) throw fail();
  const maxSize = parseSize(parts[0]!);
  if (maxSize === undefined) throw fail("SIZE is like 512k, 50m, 1g");
  if (maxSize < 1024) throw fail("SIZE must be at least 1k");
  const maxFiles = /^\d{1,3}$/.test(parts[1]!) ? Number(parts[1]) : NaN;
  if (!(maxFiles >= 1 && maxFiles <= MAX_LOG_FILES)) {
    throw fail(`COUNT runs from 1 to ${MAX_LOG_FILES}`);
  }
  return { maxSize, maxFiles, line: at.line };
}

/** `mypaas.idle`: a duration above zero. */
export function parseIdle(value: string, at: At): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) throw needs(at, KEYS.idle.grammar, value);
  return ms;
}

/** `mypaas.entrypoint` / `--entry-point`: a relative JS/TS file, `./` dropped. */
export function parseEntrypoint(value: string, at: At): string {
  const fail = (why?: string) => needs(at, KEYS.entrypoint.grammar, value, why);
  const path = value.replace(/^(\.\/)+/, "");
  if (!/\.(ts|tsx|mts|js|jsx|mjs)$/.test(path)) throw fail();
  if (path.startsWith("/") || /[\\\s]/.test(path)) {
    throw fail(
      "a path relative to the directory, without blanks or backslashes",
    );
  }
  if (path.split("/").some((s) => s === "" || s === "." || s === "..")) {
    throw fail(`it must stay inside the directory: no "..", "." or "//"`);
  }
  return path;
}
