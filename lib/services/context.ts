/**
 * @module
 * What every deploy step needs (`DeployContext`), and the replica
 * operations the strategies, recovery, restarts and liveness share: start a
 * replica, wait until it is ready, put it into and take it out of traffic.
 */
import type { Clock } from "../clock.ts";
import type { ResolvedConfig } from "../config/mod.ts";
import type { ContainerRuntime } from "../docker/mod.ts";
import type { Logger } from "../log.ts";
import type { ServiceSpec } from "../spec/types.ts";
import { containerConfig, logLimits } from "./container_config.ts";
import {
  containerName,
  imageRef,
  LABEL,
  releaseFromLabels,
  releaseLabels,
  specFromLabels,
} from "./labels.ts";
import { hostKey } from "./host_key.ts";
import { type Prober, waitReady } from "./readiness.ts";
import { releaseEnvValues, writeReleaseEnv } from "./release_env.ts";
import type { TrafficControl } from "./traffic.ts";

/** The deploy machinery's dependencies. */
export interface DeployContext {
  runtime: ContainerRuntime;
  config: ResolvedConfig;
  traffic: TrafficControl;
  probe: Prober;
  log: Logger;
  /** Owner label value: the daemon's network name. */
  owner: string;
  /** How long a new container may take to become ready. */
  readyTimeoutMs: number;
  /** Time for the build queue's timeout (default: the real clock). */
  clock?: Clock;
  /**
   * Told each phase a service's deploy or rollback enters, and undefined
   * when it is over (deploy spans).
   */
  onPhase?: (service: string, phase: string | undefined) => void;
}

/** One container of a service. */
export interface Replica {
  id: string;
  name: string;
  release: number;
  index: number;
  running: boolean;
  labels: Record<string, string>;
}

/** A deploy that failed for a reason worth telling the user. */
export class DeployFailure extends Error {
  override name = "DeployFailure";
}

/** How many containers a spec runs (recreate runs one). */
export function replicaCount(spec: ServiceSpec): number {
  return spec.scale.strategy === "recreate"
    ? 1
    : Math.max(1, spec.scale.replicas);
}

/** The containers of `service` this daemon owns, by release then index. */
export async function serviceReplicas(
  ctx: DeployContext,
  service?: string,
): Promise<Replica[]> {
  const filter: Record<string, string | true> = { [LABEL.owner]: ctx.owner };
  if (service) filter[LABEL.service] = service;
  const got = await ctx.runtime.list(filter);
  return got.map((c) => ({
    id: c.id,
    name: c.name,
    release: releaseFromLabels(c.labels) ?? 0,
    index: Number(c.labels[LABEL.index] ?? 0),
    running: c.state === "running" || c.state === "restarting",
    labels: c.labels,
  })).sort((a, b) => a.release - b.release || a.index - b.index);
}

/**
 * Creates and starts replica `index` of `release`, replacing a stale
 * namesake. A spec read from labels (env names only) gets its values back
 * from `releaseEnvValues()`; the values are stored for the release and reach
 * the container through its create call only.
 */
export async function startReplica(
  ctx: DeployContext,
  given: ServiceSpec,
  release: number,
  index: number,
  deployState: "candidate" | "restore",
): Promise<Replica> {
  const spec = await releaseEnvValues(ctx, given, release);
  const { dataDir } = ctx.config.server;
  await writeReleaseEnv(dataDir, spec.service, release, spec.env);
  const name = containerName(spec.service, release, index);
  const stale = await ctx.runtime.inspect(name);
  if (stale) {
    if (stale.labels[LABEL.owner] !== ctx.owner) {
      throw new DeployFailure(
        `a container named ${name} exists and is not mypaas's: remove or rename it`,
      );
    }
    await ctx.runtime.remove(stale.id, { force: true });
  }
  // created lazily: a daemon that never runs a container leaves no network
  await ctx.runtime.ensureNetwork(ctx.config.docker.network, {
    [LABEL.owner]: ctx.owner,
  });
  const labels = {
    ...await releaseLabels(ctx.owner, spec, release, await hostKey(dataDir)),
    [LABEL.deployState]: deployState,
    [LABEL.index]: String(index),
  };
  const id = await ctx.runtime.create(containerConfig(spec, {
    name,
    image: imageRef(spec.service, release),
    network: ctx.config.docker.network,
    labels,
    log: logLimits(spec, ctx.config),
  }));
  try {
    await ctx.runtime.start(id);
  } catch (err) {
    await ctx.runtime.remove(id, { force: true }).catch(() => {});
    throw new DeployFailure(`${name} did not start: ${(err as Error).message}`);
  }
  return { id, name, release, index, running: true, labels };
}

/** The container's base URL on the daemon's network, or null if not running. */
export async function replicaUrl(
  ctx: DeployContext,
  spec: ServiceSpec,
  id: string,
): Promise<{ host: string; port: number } | null> {
  const c = await ctx.runtime.inspect(id);
  if (!c || !c.running) return null;
  const host = c.ips[ctx.config.docker.network] ?? Object.values(c.ips)[0];
  return host ? { host, port: spec.port } : null;
}

/** Waits until the replica passes readiness (readiness, else healthcheck, else TCP). */
export function waitReplicaReady(
  ctx: DeployContext,
  spec: ServiceSpec,
  id: string,
  deadlineMs = ctx.readyTimeoutMs,
  signal?: AbortSignal,
): Promise<{ ok: boolean; why: string }> {
  return waitReady(
    ctx.probe,
    () => replicaUrl(ctx, spec, id),
    spec.readiness ?? spec.healthcheck,
    { deadlineMs, ...(signal ? { signal } : {}) },
  );
}

/** Sends traffic to a ready replica, checked with its own release's healthcheck. */
export async function addTraffic(
  ctx: DeployContext,
  spec: ServiceSpec,
  r: Replica,
): Promise<void> {
  const t = await replicaUrl(ctx, spec, r.id);
  if (!t) throw new DeployFailure(`${r.name} stopped`);
  const host = t.host.includes(":") ? `[${t.host}]` : t.host;
  ctx.traffic.addUpstream(spec.service, {
    id: r.id,
    url: `http://${host}:${t.port}`,
    release: String(r.release),
    ...(spec.healthcheck ? { healthcheck: spec.healthcheck } : {}),
  });
}

/** Drains a replica's in-flight requests, then stops it (kept for a restore). */
export async function retireReplica(
  ctx: DeployContext,
  service: string,
  r: Replica,
): Promise<void> {
  await ctx.traffic.drainUpstream(service, r.id, ctx.config.proxy.drainTimeout);
  await ctx.runtime.stop(r.id, { timeoutS: 10 });
  r.running = false;
}

/** Takes a replica out of traffic at once and removes it. */
export async function destroyReplica(
  ctx: DeployContext,
  service: string,
  r: Replica,
): Promise<void> {
  await ctx.traffic.drainUpstream(service, r.id, 0).catch(() => {});
  await ctx.runtime.remove(r.id, { force: true });
  r.running = false;
}

/**
 * Brings stopped replicas back (start, ready, traffic). Used when a deploy
 * fails after it retired some of the old ones. Returns what did not come back.
 */
export async function restoreReplicas(
  ctx: DeployContext,
  spec: ServiceSpec,
  replicas: Replica[],
): Promise<string[]> {
  const failed: string[] = [];
  for (const r of replicas) {
    const own = specFromLabels(r.labels) ?? spec;
    try {
      await ctx.runtime.start(r.id);
      r.running = true;
      const ready = await waitReplicaReady(ctx, own, r.id);
      if (!ready.ok) throw new Error(ready.why);
      await addTraffic(ctx, own, r);
    } catch (err) {
      failed.push(`${r.name}: ${(err as Error).message}`);
    }
  }
  return failed;
}
