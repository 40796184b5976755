/**
 * @module
 * The Docker labels that carry a service's state, so that the daemon can
 * rebuild everything from Docker alone after a restart, and the image names
 * and container names of releases.
 */
import type { ServiceSpec } from "../spec/types.ts";
import { keyedHash } from "./host_key.ts";

/** Label keys on containers (and images) mypaas creates. */
export const LABEL = {
  /** The daemon instance (its network name): parallel daemons never mix. */
  owner: "mypaas.owner",
  service: "mypaas.service",
  release: "mypaas.release",
  specHash: "mypaas.spec-hash",
  urls: "mypaas.urls",
  /** JSON of the ServiceSpec with env names only (`LabelSpec`). */
  spec: "mypaas.spec",
  /** The deploy phase the container was created in: "candidate" or "restore". */
  deployState: "mypaas.deploy-state",
  /** Replica index (1-based). */
  index: "mypaas.index",
} as const;

/** Image repository of a service's releases. */
export function imageRepo(service: string): string {
  return `mypaas/${service}`;
}

/** Image reference of one release. */
export function imageRef(service: string, release: number): string {
  return `${imageRepo(service)}:${release}`;
}

/** Container name of one replica of one release. */
export function containerName(
  service: string,
  release: number,
  index: number,
): string {
  return `${service}-${release}-${index}`;
}

/**
 * The keyed hash of a spec (the file path excluded): HMAC-SHA256 under the
 * host key (`host_key.ts`), over the spec with its env values, so a changed
 * value changes the hash and the hash gives no value away.
 */
export async function specHash(
  spec: ServiceSpec,
  key: CryptoKey,
): Promise<string> {
  const { file: _file, ...rest } = spec;
  return await keyedHash(key, stableJson(rest));
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${
      Object.keys(v).sort().map((k) =>
        `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`
      ).join(",")
    }}`;
  }
  return JSON.stringify(v) ?? "null";
}

/**
 * What the `mypaas.spec` label holds: the spec with env NAMES only
 * (`envNames`; values live in `release_env.ts`'s files), the Dockerfile
 * path relative to the upload, and the keyed `specHash` of the whole spec.
 */
export type LabelSpec = Omit<ServiceSpec, "env"> & {
  envNames: string[];
  specHash: string;
};

/** The label form of `spec`: nothing secret, nothing of the server's paths. */
export function labelSpec(spec: ServiceSpec, hash: string): LabelSpec {
  const { env, ...rest } = spec;
  return {
    ...rest,
    file: "Dockerfile",
    envNames: Object.keys(env).sort(),
    specHash: hash,
  };
}

/** The `mypaas.spec` label value of `spec`. */
export async function specLabel(
  spec: ServiceSpec,
  key: CryptoKey,
): Promise<string> {
  return JSON.stringify(labelSpec(spec, await specHash(spec, key)));
}

/** The labels of a release's containers. */
export async function releaseLabels(
  owner: string,
  spec: ServiceSpec,
  release: number,
  key: CryptoKey,
): Promise<Record<string, string>> {
  const hash = await specHash(spec, key);
  return {
    [LABEL.owner]: owner,
    [LABEL.service]: spec.service,
    [LABEL.release]: String(release),
    [LABEL.specHash]: hash,
    [LABEL.urls]: spec.urls.map((u) => u.url).join(" "),
    [LABEL.spec]: JSON.stringify(labelSpec(spec, hash)),
  };
}

/** Specs read from a names-only label: their env values are placeholders. */
const namesOnly = new WeakSet<ServiceSpec>();

/**
 * True when `spec` came from a names-only label: its env maps each name to
 * "" and the values must be read with `releaseEnvValues()` before a
 * container is created from it.
 */
export function hasEnvPlaceholders(spec: ServiceSpec): boolean {
  return namesOnly.has(spec);
}

function parseLabel(
  labels: Record<string, string>,
): Record<string, unknown> | null {
  const raw = labels[LABEL.spec];
  if (!raw) return null;
  try {
    const v = JSON.parse(raw);
    return v && typeof v === "object" && v.kind === "service" ? v : null;
  } catch {
    return null;
  }
}

/**
 * The spec stored in labels, or null when missing or unreadable. From a
 * current label the env holds the names with "" (see `hasEnvPlaceholders`);
 * an old-format label (before env names only) still holds the values.
 */
export function specFromLabels(
  labels: Record<string, string>,
): ServiceSpec | null {
  const v = parseLabel(labels);
  if (!v) return null;
  const { envNames, specHash: _hash, ...rest } = v;
  if (!Array.isArray(envNames)) return rest as unknown as ServiceSpec;
  const spec = {
    ...rest,
    env: Object.fromEntries(envNames.map((n) => [String(n), ""])),
  } as unknown as ServiceSpec;
  namesOnly.add(spec);
  return spec;
}

/** The keyed hash a current label records, or null (old format). */
export function hashFromLabels(labels: Record<string, string>): string | null {
  const h = parseLabel(labels)?.specHash;
  return typeof h === "string" ? h : null;
}

/** The env values of an old-format label (they held values), or null. */
export function oldLabelEnv(
  labels: Record<string, string>,
): Record<string, string> | null {
  const v = parseLabel(labels);
  if (!v || Array.isArray(v.envNames)) return null;
  const env = v.env;
  return env && typeof env === "object" && !Array.isArray(env)
    ? env as Record<string, string>
    : null;
}

/** The release number in labels, or null. */
export function releaseFromLabels(
  labels: Record<string, string>,
): number | null {
  const n = Number(labels[LABEL.release]);
  return Number.isInteger(n) && n > 0 ? n : null;
}
