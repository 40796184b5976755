/**
 * @module
 * Deploy-time optimisation of a function: `Deno.bundle()` folds the module
 * graph (npm and remote imports included) into one ES module, stored
 * content-addressed (sha256) under the bundles dir, so a cold start reads one
 * local file and resolves nothing. The bundler is a sandboxed child
 * (`deno run --unstable-bundle runtime/bundle_main.ts`, umask 077, no
 * inherited environment): it reads only the upload, writes nothing (the
 * bundle comes back on stdout), has no env/run/ffi/sys, and imports from
 * any host except the isolates' deny list (`--deny-import`: private,
 * loopback, link-local and this host's own addresses, minus `allow_net`).
 * A refused file or address fails the deploy naming the import. Remote
 * imports use TLS with the system roots plus the daemon's `DENO_CERT`.
 * The isolates themselves import nothing at run time. In a compiled mypaas
 * binary `Deno.execPath()` is mypaas itself, so the caller passes `deno`.
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

/**
 * What deno itself needs of the daemon's environment to fetch remote and
 * npm modules (CA files, proxies, registry); nothing else is inherited, and
 * the bundler has no --allow-env to read even these.
 */
const NETWORK_ENV =
  /^(NODE_EXTRA_CA_CERTS|DENO_CERT|DENO_TLS_CA_STORE|DENO_AUTH_TOKENS|NPM_CONFIG_REGISTRY|SSL_CERT_FILE|SSL_CERT_DIR|(HTTPS?|NO|ALL)_PROXY)$/i;

function networkEnv(): Record<string, string> {
  try {
    return Object.fromEntries(
      Object.entries(Deno.env.toObject()).filter(([k]) => NETWORK_ENV.test(k)),
    );
  } catch {
    return {}; // no env permission: nothing to pass on
  }
}

/** Bundles `entrypoint` (relative to `dir`) and stores the result. */
export async function bundleFunction(opts: {
  denoPath: string;
  dir: string;
  entrypoint: string;
  bundlesDir: string;
  /** Directory holding bundle_main.ts (the installed isolate runtime). */
  runtimeDir: string;
  /** Hosts and CIDRs imports may not come from (the isolates' deny list). */
  denyImport: readonly string[];
  /** DENO_DIR for the bundler's module cache. */
  denoDir?: string;
}): Promise<Artifact> {
  const env: Record<string, string> = {
    ...networkEnv(),
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
  };
  if (opts.denoDir) env.DENO_DIR = opts.denoDir;
  const main = `${opts.runtimeDir}/bundle_main.ts`;
  const args = [
    "run",
    "--quiet",
    "--no-prompt",
    "--no-config",
    "--no-lock",
    "--unstable-bundle",
    // Only the upload, the bundler itself and the npm cache (public
    // packages; the rest of DENO_DIR is Deno's own and needs no grant). No
    // write, env, run, ffi or sys: the bundle comes back on stdout.
    `--allow-read=${[
      opts.dir,
      main,
      ...(opts.denoDir ? [`${opts.denoDir}/npm`] : []),
    ]}`,
    "--allow-import",
  ];
  if (opts.denyImport.length) {
    args.push(`--deny-import=${opts.denyImport.join(",")}`);
  }
  args.push(main, `${opts.dir}/${opts.entrypoint}`);
  const { code, stdout, stderr } = await privateCommand(opts.denoPath, {
    args,
    cwd: opts.dir,
    clearEnv: true,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0 || stdout.byteLength === 0) {
    const why = new TextDecoder().decode(stderr).trim()
      .replaceAll(`${opts.dir}/`, "").split("\n").slice(0, 12).join("\n");
    throw new Error(
      `bundling ${opts.entrypoint} failed (exit ${code}); fix the import or deploy with --skip-optimize:\n${why}`,
    );
  }
  return await storeArtifact(opts.bundlesDir, stdout);
}

/** Copies a directory tree (the `--skip-optimize` sources), private. */
export async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true, mode: 0o700 });
  await Deno.chmod(to, 0o700);
  for await (const entry of Deno.readDir(from)) {
    if (entry.name === "node_modules" || entry.name === ".git") continue;
    const src = `${from}/${entry.name}`, dst = `${to}/${entry.name}`;
    if (entry.isDirectory) await copyTree(src, dst);
    else if (entry.isFile) {
      await Deno.copyFile(src, dst);
      await Deno.chmod(dst, 0o600); // copyFile keeps the upload's mode
    }
  }
}
