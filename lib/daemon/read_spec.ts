/**
 * @module
 * The spec reader of the composition root: lib/spec's `readSpec` with the
 * config's `[env]` and the push/deploy flags, for both platform sides, and
 * the daemon's own rule on top: no URL on the admin domain (read from the
 * live config, so it follows a reload).
 */
import type { ResolvedConfig } from "../config/mod.ts";
import { InputError } from "../errors.ts";
import { readSpec } from "../spec/mod.ts";
import type { DeploySpec, SpecUrl } from "../spec/types.ts";
import type { ReadSpec } from "./platform.ts";

/**
 * Refuses (409) any URL on the admin domain: it belongs to the daemon
 * (`/daemon/*`, and the dashboard at its root), whatever the path.
 */
export function checkAdminDomain(
  file: string,
  urls: readonly SpecUrl[],
  domain: string,
): void {
  const admin = domain.trim().toLowerCase().replace(/\.$/, "");
  for (const u of urls) {
    if (u.host.replace(/\.$/, "") === admin) {
      throw new InputError(
        `${file}: URL "${u.url}" is on the admin domain ${admin} ([server] domain), which belongs to the daemon: pick another host`,
        { status: 409 },
      );
    }
  }
}

/** The spec reader of the composition root: lib/spec's `readSpec`. */
export function readSpecForDeploy(
  config: ResolvedConfig,
  home: string,
): ReadSpec {
  return async (dir, opts) => {
    const spec = await read(config, home, dir, opts);
    const shown = opts.displayDir ?? dir;
    const file = spec.kind === "service"
      ? spec.file
      : shown === "." || shown === ""
      ? spec.entrypoint
      : `${shown}/${spec.entrypoint}`;
    checkAdminDomain(file, spec.urls, config.server.domain);
    return spec;
  };
}

function read(
  config: ResolvedConfig,
  home: string,
  dir: string,
  opts: Parameters<ReadSpec>[1],
): Promise<DeploySpec> {
  return readSpec(dir, {
    env: config.env,
    home,
    options: {
      ...(opts.domains ? { domains: opts.domains } : {}),
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.skipOptimize !== undefined
        ? { skipOptimize: opts.skipOptimize }
        : {}),
      ...(opts.entrypoint ? { entrypoint: opts.entrypoint } : {}),
    },
    ...(opts.displayDir !== undefined ? { displayDir: opts.displayDir } : {}),
  });
}
