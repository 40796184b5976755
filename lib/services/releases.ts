/**
 * @module
 * Release bookkeeping from Docker alone: release numbers come from the
 * `mypaas/<service>:<n>` image tags and the containers' labels; the newest
 * `keepReleases` images are kept for rollback, older ones and dead
 * containers are pruned.
 */
import type { ServiceSpec } from "../spec/types.ts";
import { type DeployContext, serviceReplicas } from "./context.ts";
import { imageRef, imageRepo, specFromLabels } from "./labels.ts";
import { pruneReleaseEnv } from "./release_env.ts";

/** Releases with an image, newest first. */
export async function imageReleases(
  ctx: DeployContext,
  service: string,
): Promise<number[]> {
  const repo = imageRepo(service);
  const out = new Set<number>();
  for (const img of await ctx.runtime.listImages(repo)) {
    for (const tag of img.tags) {
      const n = Number(tag.slice(repo.length + 1));
      if (tag.startsWith(`${repo}:`) && Number.isInteger(n) && n > 0) {
        out.add(n);
      }
    }
  }
  return [...out].sort((a, b) => b - a);
}

/** The next release number of a service. */
export async function nextRelease(
  ctx: DeployContext,
  service: string,
): Promise<number> {
  const fromImages = await imageReleases(ctx, service);
  const fromContainers = (await serviceReplicas(ctx, service)).map((r) =>
    r.release
  );
  return Math.max(0, ...fromImages, ...fromContainers) + 1;
}

/** The spec a release was built with (from its image labels), or null. */
export async function releaseSpec(
  ctx: DeployContext,
  service: string,
  release: number,
): Promise<ServiceSpec | null> {
  const img = await ctx.runtime.inspectImage(imageRef(service, release));
  return img ? specFromLabels(img.labels) : null;
}

/**
 * Removes dead containers of other releases than `current`, images beyond
 * the newest `keepReleases` (never `current`'s), and the env files of
 * releases with neither an image nor a container left.
 */
export async function prune(
  ctx: DeployContext,
  service: string,
  current: number,
): Promise<void> {
  for (const r of await serviceReplicas(ctx, service)) {
    if (r.release !== current && !r.running) {
      await ctx.runtime.remove(r.id, { force: true }).catch((e) =>
        ctx.log.warn(`prune ${r.name}: ${(e as Error).message}`)
      );
    }
  }
  const keep = Math.max(1, ctx.config.server.keepReleases);
  const releases = await imageReleases(ctx, service);
  for (const n of releases.slice(keep)) {
    if (n === current) continue;
    await ctx.runtime.removeImage(imageRef(service, n)).catch((e) =>
      ctx.log.warn(`prune ${imageRef(service, n)}: ${(e as Error).message}`)
    );
  }
  const left = new Set(await imageReleases(ctx, service));
  for (const r of await serviceReplicas(ctx, service)) left.add(r.release);
  await pruneReleaseEnv(ctx.config.server.dataDir, service, left);
}
