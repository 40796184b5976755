/**
 * @module
 * Push flags (`--domain`, `--entry-point`, `--env`, `--skip-optimize`)
 * travel inside the signed upload as `.mypaas/push.json`, so they are
 * covered by `sig2` like the files. The server reads and removes it before
 * the deploy sees the directory.
 */
import { InputError } from "../errors.ts";
import type { DeployOptions } from "../daemon/platform.ts";

/** Path of the options file inside the upload. */
export const PUSH_OPTIONS_FILE = ".mypaas/push.json";

/** The options file's JSON. */
export interface PushOptions {
  /** The client directory's name (functions without mypaas.service take it). */
  name?: string;
  domains?: string[];
  entrypoint?: string;
  env?: string[];
  skipOptimize?: boolean;
}

/** Reads and deletes the options file of an unpacked upload. */
export async function takePushOptions(dir: string): Promise<PushOptions> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/${PUSH_OPTIONS_FILE}`);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return {};
    throw err;
  }
  await Deno.remove(`${dir}/.mypaas`, { recursive: true });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new InputError(`${PUSH_OPTIONS_FILE} in the upload is not JSON`);
  }
  const o = (raw ?? {}) as Record<string, unknown>;
  const strings = (k: string) => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) {
      throw new InputError(
        `${PUSH_OPTIONS_FILE}: ${k} must be a list of strings`,
      );
    }
    return v as string[];
  };
  const out: PushOptions = {};
  const domains = strings("domains");
  const env = strings("env");
  if (domains?.length) out.domains = domains;
  if (env?.length) out.env = env;
  if (typeof o.entrypoint === "string" && o.entrypoint) {
    out.entrypoint = o.entrypoint;
  }
  if (o.skipOptimize === true) out.skipOptimize = true;
  if (o.name !== undefined) {
    if (
      typeof o.name !== "string" ||
      !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(o.name)
    ) {
      throw new InputError(
        `${PUSH_OPTIONS_FILE}: name must be a directory name like "my-app", got ${
          JSON.stringify(o.name)
        }`,
      );
    }
    out.name = o.name;
  }
  return out;
}

/** Deploy options for a push by `actor`. */
export function toDeployOptions(p: PushOptions, actor: string): DeployOptions {
  const { name: _name, ...rest } = p;
  return { ...rest, actor };
}
