/**
 * @module
 * Packs a directory as the zip a push uploads. What it leaves out is what a
 * build leaves out (`.dockerignore` plus the mypaas.toml `ignore` list, via
 * the build context's own walk) plus `.git`. Modes and symlinks are kept.
 */
import { type Zippable, zipSync } from "fflate";
import { readIgnoreList } from "../services/build.ts";
import { contextFiles } from "../docker/mod.ts";

/** Options of `packDir`. */
export interface PackOptions {
  /** Extra ignore patterns on top of the directory's own. */
  extraIgnore?: string[];
  /** Extra files to add (path -> bytes), e.g. the push options. */
  extraFiles?: Record<string, Uint8Array>;
}

/** The ignore patterns of `dir` beyond `.dockerignore`: `.git` and mypaas.toml's. */
export async function readIgnoreRules(dir: string): Promise<string[]> {
  return [".git", ...(await readIgnoreList(dir))];
}

/** The zip of `dir` and the number of files in it. */
export async function packDir(
  dir: string,
  opts: PackOptions = {},
): Promise<{ zip: Uint8Array; files: number }> {
  const extraIgnore = [
    ...await readIgnoreRules(dir),
    ...(opts.extraIgnore ?? []),
  ];
  const paths = await contextFiles(dir, { extraIgnore });
  const entries: Zippable = {};
  for (const path of paths) {
    const abs = `${dir}/${path}`;
    const st = await Deno.lstat(abs);
    if (st.isSymlink) {
      const target = await Deno.readLink(abs);
      entries[path] = [new TextEncoder().encode(target), {
        os: 3,
        attrs: (0o120777 << 16) >>> 0,
        level: 0,
      }];
    } else if (st.isFile) {
      entries[path] = [await Deno.readFile(abs), {
        os: 3,
        attrs: ((0o100000 | ((st.mode ?? 0o644) & 0o777)) << 16) >>> 0,
      }];
    }
  }
  const files = Object.keys(entries).length;
  for (const [path, data] of Object.entries(opts.extraFiles ?? {})) {
    entries[path] = data;
  }
  return { zip: zipSync(entries, { level: 6 }), files };
}
