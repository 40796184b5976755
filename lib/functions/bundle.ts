/**
 * @module
 * Deploy-time optimisation of a function: `Deno.bundle()` folds the module
 * graph (npm and remote imports included) into one ES module, stored
 * content-addressed (sha256) under the bundles dir (0700, files 0600), so a
 * cold start reads one local file and resolves nothing. Bundling runs in a
 * sandboxed `deno run` (lib/isolates/runtime/bundle_main.ts) under the
 * isolates' rules: it reads only the upload and the npm cache, and remote
 * imports may come from any host but the isolates' denied addresses, over
 * TLS trusting the system roots plus `DENO_CERT` of the daemon's
 * environment. The isolates themselves import nothing at run time. In a
 * compiled mypaas binary `Deno.execPath()` is mypaas itself, so the caller
 * passes the deno binary to use.
 */
import { privateCommand } from "../isolates/private_spawn.ts";

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
  await Deno.mkdir(bundlesDir, { recursive: true, mode: 0o700 });
  try {
    await Deno.stat(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    const tmp = `${path}.${crypto.randomUUID()}.tmp`;
    await Deno.writeFile(tmp, data, { mode: 0o600 });
    await Deno.rename(tmp, path);
  }
  return { path, sha256: sha, bytes: data.byteLength };
}

/** Thrown when the bundler refuses or fails a function's module graph. */
export class BundleError extends Error {}

/**
 * Bundles `entrypoint` (relative to `dir`) in the sandboxed bundler
 * (runtime/bundle_main.ts) and stores the result. The bundler reads only
 * `dir` and the npm cache, imports only from addresses outside `denyNet`
 * (checked after name resolution), writes nothing and gets no env, run or
 * ffi permission; it runs with umask 077.
 */
export async function bundleFunction(opts: {
  denoPath: string;
  /** Directory holding bundle_main.ts (the installed isolate runtime). */
  runtimeDir: string;
  dir: string;
  entrypoint: string;
  bundlesDir: string;
  /** DENO_DIR for the bundler's module cache. */
  denoDir?: string;
  /** Addresses imports may not come from (the isolates' deny list). */
  denyNet: string[];
}): Promise<Artifact> {
  const env: Record<string, string> = {
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
  };
  if (opts.denoDir) env.DENO_DIR = opts.denoDir;
  const reads = [opts.dir];
  if (opts.denoDir) reads.push(`${opts.denoDir}/npm`);
  const { code, stdout, stderr } = await privateCommand(opts.denoPath, {
    args: [
      "run",
      "--unstable-bundle",
      "--no-prompt",
      "--no-config",
      "--no-lock",
      `--allow-read=${reads.join(",")}`,
      // Any remote host, minus the denied addresses (also when a name
      // resolves to one): without --allow-import only deno.land, jsr.io,
      // esm.sh and a few others are allowed.
      "--allow-import",
      ...(opts.denyNet.length
        ? [`--deny-import=${opts.denyNet.join(",")}`]
        : []),
      `${opts.runtimeDir}/bundle_main.ts`,
      `${opts.dir}/${opts.entrypoint}`,
    ],
    cwd: opts.dir,
    // The daemon's environment (DENO_CERT, a registry or proxy of the
    // operator's) reaches deno itself; the bundler code may read none of it.
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    const why = new TextDecoder().decode(stderr).trim().split("\n")
      .filter((l) => !/^\S*Download /.test(l))
      .slice(0, 12).join("\n");
    throw new BundleError(
      `bundling ${opts.entrypoint} failed (exit ${code}); fix the import or deploy with --skip-optimize:\n${why}`,
    );
  }
  return await storeArtifact(opts.bundlesDir, stdout);
}

/** Copies a directory tree (the `--skip-optimize` sources), private. */
export async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true, mode: 0o700 });
  for await (const entry of Deno.readDir(from)) {
    if (entry.name === "node_modules" || entry.name === ".git") continue;
    const src = `${from}/${entry.name}`, dst = `${to}/${entry.name}`;
    if (entry.isDirectory) await copyTree(src, dst);
    else if (entry.isFile) {
      await Deno.copyFile(src, dst);
      await Deno.chmod(dst, 0o600);
    }
  }
}
