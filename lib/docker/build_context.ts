/**
 * @module
 * The build context: a directory as a tar stream, minus what `.dockerignore`
 * and the caller's extra patterns (mypaas.toml `ignore`) exclude. The
 * Dockerfile and `.dockerignore` are always sent, as `docker build` does.
 */
import * as dockerignore from "@balena/dockerignore";
import { type Header, type Pack, pack as tarPack } from "tar-stream";

// The package is CommonJS (`module.exports = factory`); its types say default.
interface Ignore {
  add(patterns: string[]): Ignore;
  ignores(path: string): boolean;
}
const ignore = ((dockerignore as { default?: unknown }).default ??
  dockerignore) as unknown as () => Ignore;

/** One entry of the context. */
interface ContextEntry {
  /** Relative path with `/` separators. */
  path: string;
  kind: "file" | "dir" | "symlink";
}

/**
 * The relative paths a build of `dir` sends, sorted. Ignored directories are
 * still walked so that `!` exceptions inside them work.
 */
export async function contextFiles(
  dir: string,
  opts: { extraIgnore?: string[]; dockerfile?: string } = {},
): Promise<string[]> {
  return (await contextEntries(dir, opts)).filter((e) => e.kind !== "dir")
    .map((e) => e.path);
}

async function contextEntries(
  dir: string,
  opts: { extraIgnore?: string[]; dockerfile?: string },
): Promise<ContextEntry[]> {
  const ig = ignore();
  try {
    const text = await Deno.readTextFile(`${dir}/.dockerignore`);
    ig.add(text.split(/\r?\n/).map((l) => l.trim()).filter(isPattern));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  ig.add((opts.extraIgnore ?? []).filter(isPattern));
  const always = new Set([opts.dockerfile ?? "Dockerfile", ".dockerignore"]);
  const out: ContextEntry[] = [];
  const walk = async (rel: string) => {
    const abs = rel ? `${dir}/${rel}` : dir;
    const names: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(abs)) names.push(e);
    names.sort((a, b) => a.name < b.name ? -1 : 1);
    for (const e of names) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      const kept = always.has(path) || !ig.ignores(path);
      if (e.isDirectory) {
        if (kept) out.push({ path, kind: "dir" });
        await walk(path);
      } else if (kept) {
        out.push({ path, kind: e.isSymlink ? "symlink" : "file" });
      }
    }
  };
  await walk("");
  return out;
}

function isPattern(line: string): boolean {
  return line !== "" && !line.startsWith("#");
}

/**
 * Packs the context of `dir` as a tar stream (a Node readable, which is what
 * the engine client wants). Files are read one at a time.
 */
export async function packContext(
  dir: string,
  opts: { extraIgnore?: string[]; dockerfile?: string } = {},
): Promise<Pack> {
  const entries = await contextEntries(dir, opts);
  const pack = tarPack();
  (async () => {
    for (const e of entries) {
      const abs = `${dir}/${e.path}`;
      if (e.kind === "dir") {
        await add(pack, { name: e.path, type: "directory", mode: 0o755 });
      } else if (e.kind === "symlink") {
        await add(pack, {
          name: e.path,
          type: "symlink",
          linkname: await Deno.readLink(abs),
        });
      } else {
        const st = await Deno.stat(abs);
        const data = await Deno.readFile(abs);
        await add(pack, {
          name: e.path,
          mode: st.mode ?? 0o644,
          size: data.byteLength,
        }, data);
      }
    }
    pack.finalize();
  })().catch((err) => pack.destroy(err));
  return pack;
}

function add(
  pack: Pack,
  header: Partial<Header> & { name: string },
  data?: Uint8Array,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (err?: Error | null) => err ? reject(err) : resolve();
    if (data) pack.entry(header, data, cb);
    else pack.entry(header, cb);
  });
}
