/**
 * @module
 * Where a release's env values live: `<data_dir>/service_env/<svc>/<n>.json`
 * (directories 0700, files 0600), written when the release's first container
 * is created, so recovery, rollback and new replicas can create containers
 * again while the labels and images carry env names only.
 * `releaseEnvValues()` reads the file, else an old-format label (releases
 * from before env names only), else the Env of a container of the same
 * release; a value is taken only when the spec's keyed hash confirms it.
 */
import type { ServiceSpec } from "../spec/types.ts";
import type { ContainerRuntime } from "../docker/mod.ts";
import { hostKey } from "./host_key.ts";
import {
  hasEnvPlaceholders,
  hashFromLabels,
  imageRef,
  LABEL,
  oldLabelEnv,
  specHash,
} from "./labels.ts";

/** The env file of one release. */
export function releaseEnvPath(
  dataDir: string,
  service: string,
  release: number,
): string {
  return `${dataDir}/service_env/${service}/${release}.json`;
}

/** Stores a release's env values (atomically, mode 0600). */
export async function writeReleaseEnv(
  dataDir: string,
  service: string,
  release: number,
  env: Record<string, string>,
): Promise<void> {
  await Deno.mkdir(`${dataDir}/service_env`, { recursive: true, mode: 0o700 });
  await Deno.mkdir(`${dataDir}/service_env/${service}`, {
    recursive: true,
    mode: 0o700,
  });
  const path = releaseEnvPath(dataDir, service, release);
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(env), {
    createNew: true,
    mode: 0o600,
  });
  await Deno.rename(tmp, path);
}

/** A release's stored env values, or null when there is no (readable) file. */
export async function readReleaseEnv(
  dataDir: string,
  service: string,
  release: number,
): Promise<Record<string, string> | null> {
  let text;
  try {
    text = await Deno.readTextFile(releaseEnvPath(dataDir, service, release));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  try {
    const v = JSON.parse(text);
    return v && typeof v === "object" && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

/** Removes the env files of `service` except those of `keep`. */
export async function pruneReleaseEnv(
  dataDir: string,
  service: string,
  keep: Iterable<number>,
): Promise<void> {
  const dir = `${dataDir}/service_env/${service}`;
  const kept = new Set([...keep].map((n) => `${n}.json`));
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!kept.has(e.name)) await Deno.remove(`${dir}/${e.name}`);
    }
    if (!kept.size) await Deno.remove(dir);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** What `releaseEnvValues()` reads (a `DeployContext` is one). */
export interface EnvContext {
  runtime: ContainerRuntime;
  config: { server: { dataDir: string } };
  /** Owner label value of this daemon's containers. */
  owner: string;
}

/**
 * `spec` with its env values: itself when it holds them, else the values of
 * `release` read back (file, old-format label, a container of the release),
 * each source checked against the label's keyed hash. `labels` are labels
 * of the release already at hand (its containers'). Throws naming the
 * release (never a value) when no source has them.
 */
export async function releaseEnvValues(
  ctx: EnvContext,
  spec: ServiceSpec,
  release: number,
  labels: Record<string, string>[] = [],
): Promise<ServiceSpec> {
  if (!hasEnvPlaceholders(spec)) return spec;
  const { dataDir } = ctx.config.server;
  const names = Object.keys(spec.env);
  if (!names.length) return { ...spec, env: {} };
  const all = [...labels];
  const img = await ctx.runtime.inspectImage(imageRef(spec.service, release));
  if (img) all.push(img.labels);
  const hash = all.map(hashFromLabels).find((h) => h !== null) ?? null;
  const key = await hostKey(dataDir);
  const accept = async (
    got: Record<string, string> | null,
  ): Promise<ServiceSpec | null> => {
    if (!got || !names.every((n) => typeof got[n] === "string")) return null;
    const full = {
      ...spec,
      env: Object.fromEntries(names.map((n) => [n, got[n]!])),
    };
    if (hash !== null && await specHash(full, key) !== hash) return null;
    return full;
  };
  const fromFile = await accept(
    await readReleaseEnv(dataDir, spec.service, release),
  );
  if (fromFile) return fromFile;
  const others: (() => Promise<Record<string, string> | null>)[] = [
    ...all.map((l) => () => Promise.resolve(oldLabelEnv(l))),
    ...(await ctx.runtime.list({
      [LABEL.owner]: ctx.owner,
      [LABEL.service]: spec.service,
      [LABEL.release]: String(release),
    })).map((c) => async () => (await ctx.runtime.inspect(c.id))?.env ?? null),
  ];
  for (const source of others) {
    const full = await accept(await source());
    if (full) {
      await writeReleaseEnv(dataDir, spec.service, release, full.env);
      return full;
    }
  }
  throw new Error(
    `release ${release} of ${spec.service} has no stored value for its env ${
      names.join(", ")
    } (${
      releaseEnvPath(dataDir, spec.service, release)
    } is missing and no container of the release is left): deploy the service again`,
  );
}
