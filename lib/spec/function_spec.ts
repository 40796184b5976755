/**
 * @module
 * `parseFunctionSpec`: a Deno entry file's `// mypaas.*` comments plus the
 * flags of `ddng deploy` / `mypaas push` -> `FunctionSpec`. Pure.
 */
import { collectKeys } from "./keys.ts";
import type { FunctionSpec } from "./types.ts";
import {
  each,
  flagDomains,
  one,
  resolveEnv,
  type SpecFlags,
  uniqueUrls,
} from "./_common.ts";
import { SpecError } from "./spec_error.ts";
import { parseDomain, parseUrl } from "./values_net.ts";
import {
  parseEntrypoint,
  parseIdle,
  parseService,
  sanitizeName,
} from "./values_run.ts";

/** What an entry file's comments are resolved against. */
export interface FunctionSpecOptions {
  /** File name for messages (`hello/main.ts`). */
  file: string;
  /** `[env]` of config.toml, for bare `mypaas.env=NAME` and `--env NAME`. */
  env: Readonly<Record<string, string>>;
  /** Home directory (kept for symmetry with services; functions mount nothing). */
  home: string;
  /** Fallback name when there is no `mypaas.service` (the directory's name). */
  name: string;
  /** The entry file, relative to the deployment directory. */
  entrypoint: string;
  flags?: SpecFlags;
}

/** Parses an entry file's comments. Throws `SpecError` naming file:line and key. */
export function parseFunctionSpec(
  text: string,
  opts: FunctionSpecOptions,
): FunctionSpec {
  const file = opts.file;
  const kv = collectKeys(text, { file, kind: "function", style: "//" });
  const service = one(kv.service, file, "service", parseService) ??
    sanitizeName(opts.name);
  if (!service) {
    throw new SpecError(
      { file, line: 0, key: "service" },
      `has no name: the directory name ${
        JSON.stringify(opts.name)
      } has nothing of [a-z0-9-]; add "// mypaas.service=NAME"`,
    );
  }
  const entrypoint = one(kv.entrypoint, file, "entrypoint", parseEntrypoint) ??
    opts.entrypoint;
  const urls = uniqueUrls([
    ...each(kv.url, file, "url", parseUrl),
    ...each(kv.domain, file, "domain", parseDomain),
    ...flagDomains(opts.flags?.domains),
  ]);
  const spec: FunctionSpec = {
    kind: "function",
    service,
    entrypoint,
    urls,
    env: resolveEnv(kv.env, file, opts.flags?.env, opts.env),
    skipOptimize: opts.flags?.skipOptimize ?? false,
  };
  const idleMs = one(kv.idle, file, "idle", parseIdle);
  if (idleMs !== undefined) spec.idleMs = idleMs;
  return spec;
}
