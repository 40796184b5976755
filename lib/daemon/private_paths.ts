/**
 * @module
 * The data dir's private parts: where tenants' code, env or keys live
 * (function releases and manifests, bundles, the isolates' transpile cache
 * `functions/_deno_dir`, `--skip-optimize` sources, TLS and ACME keys,
 * release records of services), every directory is 0700 and every file
 * 0600. The daemon creates them so (its helper processes run with umask
 * 077, see lib/isolates/private_spawn.ts) and checks at start: a looser path
 * (an old data dir, a `chmod` by hand) is named in a warning with the fix.
 * Nothing is changed: the operator may have a reason.
 */
import { dataPaths, type ResolvedConfig } from "../config/mod.ts";

/** A path whose mode lets group or others in. */
export interface LoosePath {
  path: string;
  mode: number;
}

/**
 * Sub-paths (relative to a checked root) that are public by nature and
 * skipped: the isolate runtime (the daemon's own code), the sockets and
 * the npm package and download caches (public packages and the bundler's
 * esbuild, some executable; their parent `_deno_dir` is 0700, so nobody
 * else reaches them).
 */
const PUBLIC = new Set([
  "_runtime",
  "_sockets",
  "_deno_dir/npm",
  "_deno_dir/dl",
]);

/** The trees that must be private, from the config. */
export function privateRoots(config: ResolvedConfig): string[] {
  const p = dataPaths(config);
  return [p.functions, p.certs, p.acme];
}

/** Every path under `roots` (roots included) looser than 0700 / 0600. */
export async function loosePaths(
  roots: readonly string[],
  limit = 1000,
): Promise<LoosePath[]> {
  const out: LoosePath[] = [];
  const walk = async (root: string, rel: string) => {
    if (out.length >= limit || PUBLIC.has(rel)) return;
    const path = rel ? `${root}/${rel}` : root;
    let st: Deno.FileInfo;
    try {
      st = await Deno.lstat(path);
    } catch {
      return; // not there (yet) or gone meanwhile
    }
    if (st.isSymlink) return;
    const mode = (st.mode ?? 0) & 0o777;
    if (mode & 0o077) out.push({ path, mode });
    if (!st.isDirectory) return;
    try {
      for await (const e of Deno.readDir(path)) {
        await walk(root, rel ? `${rel}/${e.name}` : e.name);
      }
    } catch { /* unreadable or gone: nothing to say about its entries */ }
  };
  for (const root of roots) await walk(root, "");
  return out;
}

/**
 * Checks the private trees and warns, naming the looser paths (the first
 * few, and how many there are) and the command that fixes them.
 */
export async function warnLoosePaths(
  roots: readonly string[],
  warn: (msg: string) => void,
): Promise<LoosePath[]> {
  const loose = await loosePaths(roots);
  if (loose.length) {
    const shown = loose.slice(0, 5).map((l) =>
      `${l.path} (${l.mode.toString(8).padStart(4, "0")})`
    );
    const more = loose.length > 5 ? ` and ${loose.length - 5} more` : "";
    warn(
      `data dir paths holding tenants' code, env or keys are readable by others: ${
        shown.join(", ")
      }${more}; fix with: chmod -R go-rwx ${roots.join(" ")}`,
    );
  }
  return loose;
}
