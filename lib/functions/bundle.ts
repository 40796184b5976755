/**
 * @module
 * Deploy-time optimisation of a function: `deno bundle` folds the module
 * graph (npm and remote imports included) into one ES module, stored
 * content-addressed (sha256) under the bundles dir, so a cold start reads one
 * local file and resolves nothing. Remote imports may come from any host
 * (`--allow-import`; without it `deno bundle` takes only deno.land, jsr.io,
 * esm.sh and a few others), over TLS trusting the system roots plus
 * `DENO_CERT` of the daemon's environment, which the bundler inherits. The
 * isolates themselves import nothing at run time. Runs `deno` as a
 * subprocess: in a compiled mypaas binary `Deno.execPath()` is mypaas itself,
 * so the caller passes the deno binary to use.
 */

/** A stored artifact. */
export interface Artifact {
  /** Absolute path of the file isolates import. */
  path: string;
  sha256: string;
  bytes: number;
}

/** Hex sha256 of bytes. */
export async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    data as Uint8Array<ArrayBuffer>,
  );
  return [...new Uint8Array(digest)]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Stores bytes as `<bundlesDir>/<sha256>.js` (written once). */
export async function storeArtifact(
  bundlesDir: string,
  data: Uint8Array,
): Promise<Artifact> {
  const sha = await sha256Hex(data);
  const path = `${bundlesDir}/${sha}.js`;
  await Deno.mkdir(bundlesDir, { recursive: true });
  try {
    await Deno.stat(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    const tmp = `${path}.${crypto.randomUUID()}.tmp`;
    await Deno.writeFile(tmp, data, { mode: 0o644 });
    await Deno.rename(tmp, path);
  }
  return { path, sha256: sha, bytes: data.byteLength };
}

/** Bundles `entrypoint` (relative to `dir`) and stores the result. */
export async function bundleFunction(opts: {
  denoPath: string;
  dir: string;
  entrypoint: string;
  bundlesDir: string;
  /** DENO_DIR for the bundler's module cache. */
  denoDir?: string;
}): Promise<Artifact> {
  const tmpDir = await Deno.makeTempDir({ prefix: "mypaas-bundle-" });
  try {
    const out = `${tmpDir}/bundle.js`;
    const env: Record<string, string> = {
      NO_COLOR: "1",
      DENO_NO_UPDATE_CHECK: "1",
    };
    if (opts.denoDir) env.DENO_DIR = opts.denoDir;
    const { code, stderr } = await new Deno.Command(opts.denoPath, {
      args: [
        "bundle",
        "--quiet",
        "--allow-import",
        "--platform",
        "deno",
        "--no-check",
        "--output",
        out,
        opts.entrypoint,
      ],
      cwd: opts.dir,
      env,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      const why = new TextDecoder().decode(stderr).trim().split("\n")
        .slice(0, 12).join("\n");
      throw new Error(
        `deno bundle of ${opts.entrypoint} failed (exit ${code}); fix the error or deploy with --skip-optimize:\n${why}`,
      );
    }
    return await storeArtifact(opts.bundlesDir, await Deno.readFile(out));
  } finally {
    await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
  }
}

/** Copies a directory tree (the `--skip-optimize` sources). */
export async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.name === "node_modules" || entry.name === ".git") continue;
    const src = `${from}/${entry.name}`, dst = `${to}/${entry.name}`;
    if (entry.isDirectory) await copyTree(src, dst);
    else if (entry.isFile) await Deno.copyFile(src, dst);
  }
}
