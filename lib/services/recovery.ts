/**
 * @module
 * Start-up recovery: reads every service back from Docker labels (and the
 * deploy markers), and leaves each one wholly on one release. A deploy cut
 * off midway is finished when the new release's containers are complete,
 * running and ready; otherwise it is rolled back (new containers removed, old
 * ones started and topped up). Serving containers are registered with the
 * traffic control again.
 */
import type { ServiceSpec } from "../spec/types.ts";
import {
  addTraffic,
  type DeployContext,
  destroyReplica,
  type Replica,
  replicaCount,
  serviceReplicas,
  startReplica,
  waitReplicaReady,
} from "./context.ts";
import type { DeployMarker, DeployMarkers } from "./deploy_marker.ts";
import { LABEL, specFromLabels } from "./labels.ts";
import { releaseSpec } from "./releases.ts";

/** What recovery did to one service. */
export interface RecoveryOutcome {
  service: string;
  release: number | null;
  /** "kept", "finished", "rolled-back" or "failed". */
  action: string;
  detail?: string;
}

/** Recovers every service; one line per service goes to `ctx.log`. */
export async function recoverAll(
  ctx: DeployContext,
  markers: DeployMarkers,
): Promise<RecoveryOutcome[]> {
  const pending = new Map<string, DeployMarker>();
  for (const m of await markers.all()) pending.set(m.service, m);
  const byService = new Map<string, Replica[]>();
  for (const r of await serviceReplicas(ctx)) {
    const s = r.labels[LABEL.service] ?? "";
    byService.set(s, [...(byService.get(s) ?? []), r]);
  }
  const out: RecoveryOutcome[] = [];
  for (const service of new Set([...byService.keys(), ...pending.keys()])) {
    let outcome: RecoveryOutcome;
    try {
      outcome = await recoverService(
        ctx,
        service,
        byService.get(service) ?? [],
        pending.get(service),
      );
    } catch (err) {
      outcome = {
        service,
        release: null,
        action: "failed",
        detail: (err as Error).message,
      };
    }
    await markers.remove(service);
    const msg = `recovery of ${service}: ${outcome.action}${
      outcome.release !== null ? ` release ${outcome.release}` : ""
    }${outcome.detail ? ` (${outcome.detail})` : ""}`;
    if (outcome.action === "failed") ctx.log.error(msg);
    else ctx.log.info(msg);
    out.push(outcome);
  }
  return out;
}

async function recoverService(
  ctx: DeployContext,
  service: string,
  replicas: Replica[],
  marker: DeployMarker | undefined,
): Promise<RecoveryOutcome> {
  const releases = [...new Set(replicas.map((r) => r.release))].sort((a, b) =>
    b - a
  );
  let newR = marker?.to ?? releases[0] ?? null;
  let oldR = marker ? marker.from : releases[1] ?? null;
  if (newR === null) return { service, release: null, action: "kept" };
  if (oldR === newR) oldR = null;
  const of = (n: number | null) => replicas.filter((r) => r.release === n);
  let newSet = of(newR);
  if (!newSet.length && oldR !== null) {
    // the deploy died before its first container: the old one decides
    [newR, oldR] = [oldR, null];
    newSet = of(newR);
  }
  const newSpec = await specOf(ctx, service, newR, newSet);
  const extra = replicas.filter((r) =>
    r.release !== newR && r.release !== oldR
  );
  for (const r of extra) await destroyReplica(ctx, service, r);

  if (newSpec && await complete(ctx, newSpec, newSet)) {
    for (const r of of(oldR)) await destroyReplica(ctx, service, r);
    await register(ctx, newSpec, newSet);
    return {
      service,
      release: newR,
      action: oldR === null && !marker ? "kept" : "finished",
    };
  }
  if (oldR !== null) {
    const oldSpec = await specOf(ctx, service, oldR, of(oldR));
    if (oldSpec) {
      for (const r of newSet) await destroyReplica(ctx, service, r);
      const set = await bringUp(ctx, oldSpec, oldR, of(oldR));
      await register(ctx, oldSpec, set);
      return { service, release: oldR, action: "rolled-back" };
    }
  }
  if (!newSpec) {
    return {
      service,
      release: newR,
      action: "failed",
      detail: "no spec in the labels",
    };
  }
  const set = await bringUp(ctx, newSpec, newR, newSet);
  await register(ctx, newSpec, set);
  return { service, release: newR, action: "finished" };
}

async function specOf(
  ctx: DeployContext,
  service: string,
  release: number,
  set: Replica[],
): Promise<ServiceSpec | null> {
  for (const r of set) {
    const s = specFromLabels(r.labels);
    if (s) return s;
  }
  return await releaseSpec(ctx, service, release);
}

/** Waits for one replica's readiness with recovery's short deadline. */
function readyAfterRestart(
  ctx: DeployContext,
  spec: ServiceSpec,
  r: Replica,
): ReturnType<typeof waitReplicaReady> {
  return waitReplicaReady(
    ctx,
    spec,
    r.id,
    Math.min(ctx.readyTimeoutMs, 10_000),
  );
}

/** All replicas present, running and ready (a short deadline). */
async function complete(
  ctx: DeployContext,
  spec: ServiceSpec,
  set: Replica[],
): Promise<boolean> {
  if (set.length < replicaCount(spec) || set.some((r) => !r.running)) {
    return false;
  }
  for (const r of set) {
    const ready = await readyAfterRestart(ctx, spec, r);
    if (!ready.ok) return false;
  }
  return true;
}

/** Starts stopped replicas and creates missing ones up to the spec's count. */
async function bringUp(
  ctx: DeployContext,
  spec: ServiceSpec,
  release: number,
  set: Replica[],
): Promise<Replica[]> {
  const out: Replica[] = [];
  const want = replicaCount(spec);
  const sorted = [...set].sort((a, b) => a.index - b.index);
  for (const r of sorted.slice(want)) {
    await destroyReplica(ctx, spec.service, r);
  }
  for (const r of sorted.slice(0, want)) {
    if (!r.running) {
      await ctx.runtime.start(r.id);
      r.running = true;
    }
    out.push(r);
  }
  const used = new Set(out.map((r) => r.index));
  for (let i = 1; out.length < want; i++) {
    if (used.has(i)) continue;
    out.push(await startReplica(ctx, spec, release, i, "restore"));
  }
  return out;
}

async function register(
  ctx: DeployContext,
  spec: ServiceSpec,
  set: Replica[],
): Promise<void> {
  ctx.traffic.setService(spec);
  for (const r of set) {
    const ready = await readyAfterRestart(ctx, spec, r);
    if (ready.ok) await addTraffic(ctx, spec, r);
    else ctx.log.warn(`${r.name} is not ready after recovery: ${ready.why}`);
  }
}
