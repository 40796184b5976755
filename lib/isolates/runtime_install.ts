/**
 * @module
 * Copies the isolate runtime (runtime/*.ts) to a directory on disk. Worker
 * processes are separate `deno` processes: in a compiled mypaas binary the
 * runtime lives only in the binary's embedded file system, so the daemon
 * writes it out under its data dir at start and the processes run that copy.
 */

const FILES = [
  "bundle_main.ts",
  "process_main.ts",
  "isolate_main.ts",
  "net_guard.ts",
  "outbound.ts",
];

/** Writes the runtime files into `dir` (created); returns `dir`. */
export async function installRuntime(dir: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  for (const name of FILES) {
    const text = await Deno.readTextFile(
      new URL(`./runtime/${name}`, import.meta.url),
    );
    const path = `${dir}/${name}`;
    const old = await Deno.readTextFile(path).catch(() => null);
    if (old !== text) {
      await Deno.writeTextFile(`${path}.tmp`, text, { mode: 0o600 });
      await Deno.rename(`${path}.tmp`, path);
    }
  }
  return dir;
}

/**
 * The `deno` binary for worker processes and bundling: `explicit` if given,
 * else this process's executable when it is deno (running from source), else
 * the first `deno` on `pathEnv`. Null when none is found.
 */
export async function findDeno(
  explicit: string | undefined,
  pathEnv: string | undefined,
): Promise<string | null> {
  if (explicit) return explicit;
  const self = Deno.execPath();
  if (/(^|\/)deno$/.test(self)) return self;
  for (const dir of (pathEnv ?? "").split(":").filter(Boolean)) {
    const candidate = `${dir}/deno`;
    try {
      const st = await Deno.stat(candidate);
      if (st.isFile) return candidate;
    } catch { /* not here */ }
  }
  return null;
}
