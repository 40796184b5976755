/**
 * @module
 * The Docker labels that carry a service's state, so that the daemon can
 * rebuild everything from Docker alone after a restart, and the image names
 * and container names of releases.
 */
import type { ServiceSpec } from "../spec/types.ts";

/** Label keys on containers (and images) mypaas creates. */
export const LABEL = {
  /** The daemon instance (its network name): parallel daemons never mix. */
  owner: "mypaas.owner",
  service: "mypaas.service",
  release: "mypaas.release",
  specHash: "mypaas.spec-hash",
  urls: "mypaas.urls",
  /** JSON of the ServiceSpec. */
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

/** A short stable hash of a spec (the file path excluded). */
export async function specHash(spec: ServiceSpec): Promise<string> {
  const { file: _file, ...rest } = spec;
  const data = new TextEncoder().encode(stableJson(rest));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return [...digest.slice(0, 6)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
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

/** The labels of a release's containers. */
export async function releaseLabels(
  owner: string,
  spec: ServiceSpec,
  release: number,
): Promise<Record<string, string>> {
  return {
    [LABEL.owner]: owner,
    [LABEL.service]: spec.service,
    [LABEL.release]: String(release),
    [LABEL.specHash]: await specHash(spec),
    [LABEL.urls]: spec.urls.map((u) => u.url).join(" "),
    [LABEL.spec]: JSON.stringify(spec),
  };
}

/** The spec stored in labels, or null when missing or unreadable. */
export function specFromLabels(
  labels: Record<string, string>,
): ServiceSpec | null {
  const raw = labels[LABEL.spec];
  if (!raw) return null;
  try {
    const spec = JSON.parse(raw) as ServiceSpec;
    return spec.kind === "service" ? spec : null;
  } catch {
    return null;
  }
}

/** The release number in labels, or null. */
export function releaseFromLabels(
  labels: Record<string, string>,
): number | null {
  const n = Number(labels[LABEL.release]);
  return Number.isInteger(n) && n > 0 ? n : null;
}
