/**
 * @module
 * The table of `mypaas.*` keys: which deployment kinds take each key, whether
 * it may repeat, the grammar of its value (used in error messages and the
 * README) and whether it comes from MyPaas or is an extension. `collectKeys`
 * checks a file's comments against it.
 */
import { type CommentStyle, specLines } from "./lines.ts";
import { SpecError } from "./spec_error.ts";

/** A deployment kind: a Dockerfile service or a Deno isolate function. */
export type SpecKind = "service" | "function";

/** What one key accepts. */
export interface KeyInfo {
  kinds: readonly SpecKind[];
  repeatable: boolean;
  /** The value's grammar, as error messages quote it. */
  grammar: string;
  origin: "mypaas" | "extension";
}

const S = ["service"] as const;
const F = ["function"] as const;
const SF = ["service", "function"] as const;

/** Every key, in the order the README lists them. */
export const KEYS = {
  service: {
    kinds: SF,
    repeatable: false,
    grammar: "a name",
    origin: "mypaas",
  },
  url: {
    kinds: SF,
    repeatable: true,
    grammar: `an http(s) URL such as "https://example.com/api"`,
    origin: "mypaas",
  },
  volume: {
    kinds: S,
    repeatable: true,
    grammar: `"HOST:CONTAINER" such as "~/data:/data"`,
    origin: "mypaas",
  },
  env: {
    kinds: SF,
    repeatable: true,
    grammar: `"NAME=VALUE" or a bare "NAME" from [env]`,
    origin: "mypaas",
  },
  port: {
    kinds: S,
    repeatable: false,
    grammar: "a port from 1 to 65535",
    origin: "mypaas",
  },
  publish: {
    kinds: S,
    repeatable: true,
    grammar: `"HOST:CONTAINER" ports with an optional "/tcp" or "/udp"`,
    origin: "mypaas",
  },
  scale: {
    kinds: S,
    repeatable: false,
    grammar: `"0", "N", "roll N" or "safe N"`,
    origin: "mypaas",
  },
  healthcheck: {
    kinds: S,
    repeatable: false,
    grammar: `"/path interval timeout"`,
    origin: "mypaas",
  },
  maxcpu: {
    kinds: S,
    repeatable: false,
    grammar: `a number of cores such as "0.5" or "500m"`,
    origin: "mypaas",
  },
  maxmem: {
    kinds: S,
    repeatable: false,
    grammar: `a size such as "512m" or "1.5g"`,
    origin: "mypaas",
  },
  autoscale: {
    kinds: S,
    repeatable: false,
    grammar: `"min..max [cpu=80%] [mem=80%]"`,
    origin: "extension",
  },
  liveness: {
    kinds: S,
    repeatable: false,
    grammar: `"/path interval timeout"`,
    origin: "extension",
  },
  readiness: {
    kinds: S,
    repeatable: false,
    grammar: `"/path interval timeout"`,
    origin: "extension",
  },
  sticky: {
    kinds: S,
    repeatable: false,
    grammar: `"cookie [max-age]" or "cookie:NAME [max-age]"`,
    origin: "extension",
  },
  hash: {
    kinds: S,
    repeatable: false,
    grammar: `"header:NAME", "cookie:NAME" or "ip"`,
    origin: "extension",
  },
  request: {
    kinds: S,
    repeatable: false,
    grammar: `"cpu=100m mem=128M" (either part)`,
    origin: "extension",
  },
  logs: {
    kinds: S,
    repeatable: false,
    grammar: `"SIZE COUNT" such as "50m 5" (files of SIZE, COUNT of them)`,
    origin: "extension",
  },
  idle: {
    kinds: SF,
    repeatable: false,
    grammar: `a duration such as "5m"`,
    origin: "extension",
  },
  domain: {
    kinds: F,
    repeatable: true,
    grammar: `a host name such as "app.example.com"`,
    origin: "extension",
  },
  entrypoint: {
    kinds: F,
    repeatable: false,
    grammar: `a relative .ts/.js file such as "src/main.ts"`,
    origin: "extension",
  },
} as const satisfies Record<string, KeyInfo>;

/** A known key. */
export type SpecKey = keyof typeof KEYS;

/** Every known key. */
export const KEY_NAMES = Object.keys(KEYS) as SpecKey[];

/** One value of a key and the line it came from. */
export interface KeyValue {
  line: number;
  value: string;
}

/** A file's comments grouped by key, in file order. */
export type KeyValues = Partial<Record<SpecKey, KeyValue[]>>;

/**
 * Reads the comments of `text` and checks each key: known, meant for `kind`,
 * and given once unless repeatable.
 */
export function collectKeys(
  text: string,
  opts: { file: string; kind: SpecKind; style: CommentStyle },
): KeyValues {
  const out: KeyValues = {};
  for (const { line, key, value } of specLines(text, opts)) {
    const where = { file: opts.file, line, key };
    if (key === "") {
      throw new SpecError(where, `needs a key: "mypaas.KEY=VALUE"`);
    }
    if (!Object.hasOwn(KEYS, key)) {
      throw new SpecError(
        { ...where, key: key.slice(0, 40) },
        `is not a known key; known keys: ${
          KEY_NAMES.filter((k) =>
            (KEYS[k].kinds as readonly string[]).includes(opts.kind)
          ).join(", ")
        }`,
      );
    }
    const k = key as SpecKey;
    const info: KeyInfo = KEYS[k];
    if (!info.kinds.includes(opts.kind)) {
      const other = opts.kind === "service"
        ? "function entry file"
        : "Dockerfile";
      throw new SpecError(
        where,
        `does not apply to a ${opts.kind} (it belongs in a ${other})`,
      );
    }
    const list = out[k] ??= [];
    if (list.length > 0 && !info.repeatable) {
      throw new SpecError(
        where,
        `is given twice (first on line ${list[0]!.line}); keep one`,
      );
    }
    list.push({ line, value });
  }
  return out;
}
