/**
 * @module
 * The data dir is private wherever tenants' code, env or keys live: function
 * releases (manifests hold env values), bundles, the transpile and npm
 * caches under `functions/_deno_dir`, certificates and ACME keys. There,
 * directories are 0700 and files 0600 (the daemon writes them so, and its
 * helper processes run with umask 077). At start the daemon walks these
 * trees and warns, naming each path that is looser: it does not chmod, as a
 * looser mode may be an operator's choice (a backup user), but it is said.
 */
import type { ResolvedConfig } from "../config/mod.ts";
import { dataPaths } from "../config/mod.ts";
import type { Logger } from "../log.ts";

/**
 * Deno's own downloaded tools (esbuild for the bundler), which deno makes
 * 0755 itself; they hold nothing of a tenant's.
 */
const TOOLS = /\/_deno_dir\/dl(\/|$)/;

/** A path whose mode lets group or others in. */
export interface LoosePath {
  path: string;
  /** Permission bits, e.g. 0o644. */
  mode: number;
}

/** The trees that must be private, for a config. */
export function privateRoots(config: ResolvedConfig): string[] {
  const p = dataPaths(config);
  return [config.server.dataDir, p.functions, p.certs, p.acme];
}

/**
 * Directories and regular files under `roots` (each root included, the
 * data dir itself only as a directory when it is also a parent of others)
 * whose mode has any group/other bit. Symlinks are not followed; sockets
 * and other special files are skipped. At most `limit` are returned.
 */
export async function loosePaths(
  roots: readonly string[],
  limit = 1000,
): Promise<LoosePath[]> {
  const out: LoosePath[] = [];
  const seen = new Set<string>();
  const visit = async (path: string, deep: boolean): Promise<void> => {
    if (out.length >= limit || seen.has(path) || TOOLS.test(path)) return;
    seen.add(path);
    let st: Deno.FileInfo;
    try {
      st = await Deno.lstat(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw err;
    }
    if (!st.isDirectory && !st.isFile) return;
    const mode = (st.mode ?? 0) & 0o777;
    if (mode & 0o077) out.push({ path, mode });
    if (!st.isDirectory || !deep) return;
    for await (const e of Deno.readDir(path)) {
      await visit(`${path}/${e.name}`, true);
    }
  };
  for (const [i, root] of roots.entries()) {
    // The first root (the data dir) is checked as a directory only: it
    // also holds logs and uploads in flight, which are not walked.
    await visit(root, i > 0 || roots.length === 1);
  }
  return out;
}

/** Logs one warning naming the looser paths (up to 20, then a count). */
export async function warnLoosePaths(
  config: ResolvedConfig,
  log: Logger,
): Promise<LoosePath[]> {
  const loose = await loosePaths(privateRoots(config));
  if (loose.length) {
    const shown = loose.slice(0, 20).map((l) =>
      `${l.path} (${l.mode.toString(8).padStart(4, "0")})`
    );
    const more = loose.length > 20 ? ` and ${loose.length - 20} more` : "";
    log.warn(
      `data dir paths holding tenants' code, env or keys are readable by others (want directories 0700, files 0600): ${
        shown.join(", ")
      }${more}; fix with: chmod -R go-rwx ${config.server.dataDir}/functions (and the paths named)`,
    );
  }
  return loose;
}
