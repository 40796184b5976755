/**
 * @module
 * The spec reader of the composition root: lib/spec's `readSpec` with the
 * config's `[env]` and the push/deploy flags, for both platform sides.
 */
import type { ResolvedConfig } from "../config/mod.ts";
import { readSpec } from "../spec/mod.ts";
import type { ReadSpec } from "./platform.ts";

/** The spec reader of the composition root: lib/spec's `readSpec`. */
export function readSpecForDeploy(
  config: ResolvedConfig,
  home: string,
): ReadSpec {
  return (dir, opts) =>
    readSpec(dir, {
      env: config.env,
      home,
      ...(opts.displayDir !== undefined ? { displayDir: opts.displayDir } : {}),
      options: {
        ...(opts.domains ? { domains: opts.domains } : {}),
        ...(opts.env ? { env: opts.env } : {}),
        ...(opts.skipOptimize !== undefined
          ? { skipOptimize: opts.skipOptimize }
          : {}),
        ...(opts.entrypoint ? { entrypoint: opts.entrypoint } : {}),
      },
    });
}
