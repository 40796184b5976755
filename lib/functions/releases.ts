/**
 * @module
 * Function releases on disk, the one source of truth of the function side:
 * `<functions>/<name>/releases/<n>/manifest.json` (immutable once written)
 * and `<functions>/<name>/current` (the serving release number, replaced by
 * an atomic rename). The daemon rebuilds its function state from these files
 * at start-up. Everything here is private (directories 0700, files 0600):
 * manifests hold env values.
 */
import type { SpecUrl } from "../spec/types.ts";

/** What one release is: written once, never changed. */
export interface FunctionRelease {
  name: string;
  release: number;
  createdAt: string;
  /** Entry file relative to the deployment directory. */
  entrypoint: string;
  urls: SpecUrl[];
  env: Record<string, string>;
  /** True when `artifact` is a bundle; false for `--skip-optimize` sources. */
  optimized: boolean;
  /** Absolute path of the module isolates import. */
  artifact: string;
  sha256: string;
  idleMs?: number;
  actor?: string;
}

/** The releases of every function, as files under one directory. */
export class ReleaseStore {
  constructor(readonly root: string) {}

  /** Directory of one release. */
  releaseDir(name: string, release: number): string {
    return `${this.root}/${name}/releases/${release}`;
  }

  /** Function names with a `current` pointer. */
  async names(): Promise<string[]> {
    const out: string[] = [];
    try {
      for await (const e of Deno.readDir(this.root)) {
        if (!e.isDirectory || e.name === "bundles" || e.name.startsWith("_")) {
          continue;
        }
        if (await this.current(e.name) !== null) out.push(e.name);
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return out.sort();
  }

  /** Release numbers of a function, newest first. */
  async releases(name: string): Promise<number[]> {
    const out: number[] = [];
    try {
      for await (const e of Deno.readDir(`${this.root}/${name}/releases`)) {
        const n = Number(e.name);
        if (e.isDirectory && Number.isInteger(n) && n > 0) {
          try {
            await Deno.stat(`${this.releaseDir(name, n)}/manifest.json`);
            out.push(n);
          } catch { /* incomplete release: ignored */ }
        }
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return out.sort((a, b) => b - a);
  }

  /** The serving release number, or null. */
  async current(name: string): Promise<number | null> {
    try {
      const text = await Deno.readTextFile(`${this.root}/${name}/current`);
      const n = Number(text.trim());
      return Number.isInteger(n) && n > 0 ? n : null;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null;
      throw err;
    }
  }

  /** Reads one release's manifest. */
  async read(name: string, release: number): Promise<FunctionRelease> {
    const path = `${this.releaseDir(name, release)}/manifest.json`;
    return JSON.parse(await Deno.readTextFile(path)) as FunctionRelease;
  }

  /** The next free release number and its (created) directory. */
  async allocate(name: string): Promise<{ release: number; dir: string }> {
    await Deno.mkdir(`${this.root}/${name}/releases`, {
      recursive: true,
      mode: 0o700,
    });
    let release = ((await this.releases(name))[0] ?? 0) + 1;
    for (;;) {
      const dir = this.releaseDir(name, release);
      try {
        await Deno.mkdir(dir, { mode: 0o700 });
        return { release, dir };
      } catch (err) {
        if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
        release++;
      }
    }
  }

  /** Writes a release's manifest (the release exists from then on). */
  async write(manifest: FunctionRelease): Promise<void> {
    const dir = this.releaseDir(manifest.name, manifest.release);
    const tmp = `${dir}/manifest.json.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(manifest, null, 2) + "\n", {
      mode: 0o600,
    });
    await Deno.rename(tmp, `${dir}/manifest.json`);
  }

  /** Points `current` at a release, atomically. */
  async setCurrent(name: string, release: number): Promise<void> {
    const path = `${this.root}/${name}/current`;
    await Deno.writeTextFile(`${path}.tmp`, `${release}\n`, { mode: 0o600 });
    await Deno.rename(`${path}.tmp`, path);
  }

  /** Deletes a release directory. */
  async discard(name: string, release: number): Promise<void> {
    await Deno.remove(this.releaseDir(name, release), { recursive: true })
      .catch(() => {});
  }

  /** Deletes every file of a function. */
  async removeAll(name: string): Promise<void> {
    await Deno.remove(`${this.root}/${name}`, { recursive: true });
  }

  /** Keeps the newest `keep` releases and the current one; returns the rest. */
  async prune(name: string, keep: number): Promise<number[]> {
    const current = await this.current(name);
    const all = await this.releases(name);
    const drop = all.slice(Math.max(1, keep)).filter((n) => n !== current);
    for (const n of drop) await this.discard(name, n);
    return drop;
  }

  /** Artifacts some kept release still uses. */
  async artifactsInUse(): Promise<Set<string>> {
    const used = new Set<string>();
    try {
      for await (const e of Deno.readDir(this.root)) {
        if (!e.isDirectory || e.name === "bundles") continue;
        for (const n of await this.releases(e.name)) {
          used.add((await this.read(e.name, n)).artifact);
        }
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return used;
  }
}
