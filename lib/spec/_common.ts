/**
 * @module
 * Folder-private: the parts both kinds share (urls, env, the flags of
 * `push`/`spec`) and the checks that span several lines.
 */
import type { KeyValue } from "./keys.ts";
import type { SpecUrl } from "./types.ts";
import type { At } from "./_fail.ts";
import { SpecError } from "./spec_error.ts";
import { parseDomain, parseEnv } from "./values_net.ts";

/** Parses each value of a key with `parse`, passing where it came from. */
export function each<T>(
  values: KeyValue[] | undefined,
  file: string,
  key: string,
  parse: (value: string, at: At) => T,
): { value: T; at: At }[] {
  return (values ?? []).map((v) => {
    const at = { file, line: v.line, key };
    return { value: parse(v.value, at), at };
  });
}

/** The single value of a non-repeatable key, parsed, or undefined. */
export function one<T>(
  values: KeyValue[] | undefined,
  file: string,
  key: string,
  parse: (value: string, at: At) => T,
): T | undefined {
  return each(values, file, key, parse)[0]?.value;
}

/** Refuses the second URL with the same scheme, host and path. */
export function uniqueUrls(urls: { value: SpecUrl; at: At }[]): SpecUrl[] {
  const seen = new Map<string, At>();
  for (const { value, at } of urls) {
    const first = seen.get(value.url);
    if (first) {
      const where = first.line > 0 ? `line ${first.line}` : first.file;
      throw new SpecError(
        at,
        `repeats ${value.url} (already given on ${where})`,
      );
    }
    seen.set(value.url, at);
  }
  return urls.map((u) => u.value);
}

/** The flags `push` and `spec` take for a directory. */
export interface SpecFlags {
  /** `--domain D` (repeatable): adds `https://D`. Functions only. */
  domains?: string[];
  /** `--env K=V` or bare `--env K` from `[env]` (repeatable). Overrides comments. */
  env?: string[];
  /** `--skip-optimize`: functions are deployed without bundling. */
  skipOptimize?: boolean;
}

/**
 * Comment env (a name twice is an error) then `--env` flags on top (a flag
 * overrides a comment).
 */
export function resolveEnv(
  values: KeyValue[] | undefined,
  file: string,
  flags: string[] | undefined,
  secrets: Readonly<Record<string, string>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  const lines = new Map<string, number>();
  for (
    const { value: [name, val], at } of each(
      values,
      file,
      "env",
      (v, at) => parseEnv(v, at, secrets),
    )
  ) {
    const first = lines.get(name);
    if (first !== undefined) {
      throw new SpecError(at, `sets ${name} again (first on line ${first})`);
    }
    lines.set(name, at.line);
    env[name] = val;
  }
  for (const flag of flags ?? []) {
    const [name, val] = parseEnv(
      flag,
      { file: "--env", line: 0, key: "env" },
      secrets,
    );
    env[name] = val;
  }
  return env;
}

/** `--domain` flags as URLs, positioned for error messages. */
export function flagDomains(
  domains: string[] | undefined,
): { value: SpecUrl; at: At }[] {
  return (domains ?? []).map((d) => {
    const at = { file: "--domain", line: 0, key: "domain" };
    return { value: parseDomain(d, at), at };
  });
}
