/**
 * @module
 * The deploy strategies. All three leave the service wholly on the old or
 * wholly on the new release:
 *
 * - recreate (`scale` absent or 0): retire the old container, start the new
 *   one; if it fails, bring the old one back.
 * - rolling (`scale N`, `roll N`): start one new container, wait until it is
 *   ready, send it traffic, then retire one old container after draining.
 *   Any failure removes the new ones and restores the retired old ones.
 * - safe (`safe N`): retire all old, then start all new; restore on failure.
 *
 * Old containers are only stopped while the deploy runs and are removed once
 * it succeeded, so a restore never needs to create anything.
 */
import type { ServiceSpec } from "../spec/types.ts";
import {
  addTraffic,
  type DeployContext,
  DeployFailure,
  destroyReplica,
  type Replica,
  replicaCount,
  restoreReplicas,
  retireReplica,
  startReplica,
  waitReplicaReady,
} from "./context.ts";

/** Where a deploy is; `list` shows it while a deploy runs. */
export type DeployPhase =
  | "queued"
  | "building"
  | "starting"
  | "waiting-healthy"
  | "switching"
  | "draining"
  | "restoring"
  | "done"
  | "rolled-back";

/** How a strategy ended. */
export interface StrategyResult {
  ok: boolean;
  /** Why it failed, one line. */
  why?: string;
}

/** Runs the spec's strategy from the `old` replicas to `release`. */
export async function runStrategy(
  ctx: DeployContext,
  spec: ServiceSpec,
  release: number,
  old: Replica[],
  progress: (line: string) => void,
  phase: (p: DeployPhase) => void = () => {},
): Promise<StrategyResult> {
  const n = replicaCount(spec);
  const started: Replica[] = [];
  const retired: Replica[] = [];
  const liveOld = old.filter((r) => r.running);
  const retire = async (r: Replica) => {
    phase("draining");
    progress(`draining and stopping ${r.name}`);
    await retireReplica(ctx, spec.service, r);
    retired.push(r);
  };
  const startOne = async (index: number) => {
    phase("starting");
    const r = await startReplica(ctx, spec, release, index, "candidate");
    started.push(r);
    phase("waiting-healthy");
    progress(`started ${r.name}, waiting until it is ready`);
    const ready = await waitReplicaReady(ctx, spec, r.id);
    if (!ready.ok) {
      throw new DeployFailure(`${r.name} is not ready: ${ready.why}`);
    }
    phase("switching");
    await addTraffic(ctx, spec, r);
    progress(`${r.name} is ready and receives traffic`);
  };
  try {
    if (spec.scale.strategy === "rolling") {
      for (let i = 1; i <= n; i++) {
        await startOne(i);
        const o = liveOld.shift();
        if (o) await retire(o);
      }
      for (const o of liveOld) await retire(o);
    } else {
      for (const o of liveOld) await retire(o);
      for (let i = 1; i <= n; i++) await startOne(i);
    }
  } catch (err) {
    const why = err instanceof DeployFailure
      ? err.message
      : `unexpected error: ${(err as Error).message}`;
    phase("restoring");
    progress(`deploy failed: ${why}`);
    for (const r of started) {
      progress(`removing ${r.name}`);
      await destroyReplica(ctx, spec.service, r).catch((e) =>
        ctx.log.error(`cannot remove ${r.name}: ${(e as Error).message}`)
      );
    }
    if (retired.length) {
      progress(`restoring ${retired.map((r) => r.name).join(", ")}`);
      const lost = await restoreReplicas(ctx, spec, retired);
      for (const l of lost) progress(`could not restore ${l}`);
    }
    phase("rolled-back");
    return { ok: false, why };
  }
  for (
    const o of [
      ...retired,
      ...old.filter((r) => !r.running && !retired.includes(r)),
    ]
  ) {
    await ctx.runtime.remove(o.id, { force: true }).catch((e) =>
      ctx.log.warn(`cannot remove ${o.name}: ${(e as Error).message}`)
    );
  }
  phase("done");
  return { ok: true };
}
