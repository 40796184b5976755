/**
 * @module
 * What `list` shows of the services: per service the serving release, its
 * containers and their restarts, and the service's state, all read back
 * from Docker labels plus what the Deployer knows of running operations.
 */
import { describeLog } from "./container_config.ts";
import {
  type DeployContext,
  type Replica,
  replicaCount,
  serviceReplicas,
} from "./context.ts";
import { LABEL, specFromLabels } from "./labels.ts";
import { imageReleases } from "./releases.ts";
import type { DeployPhase } from "./strategies.ts";

/** One service as `list` shows it. */
export interface ServiceStatus {
  service: string;
  release: number | null;
  urls: string[];
  /** "running", "deploying", "degraded" or "stopped". */
  state: string;
  instances: {
    id: string;
    name: string;
    state: string;
    restarts: number;
    /** Its log driver and rotation (`describeLog`). */
    log?: string;
  }[];
  releases: number[];
}

/** What the Deployer knows that Docker labels do not. */
export interface OperationView {
  /** The release serving when each running deploy began (null: none). */
  serving: ReadonlyMap<string, number | null>;
  /** Whether an operation on the service runs or waits. */
  busy(service: string): boolean;
  /** The phase of each running deploy or rollback. */
  phases: ReadonlyMap<string, DeployPhase>;
  /** Restarts done by the liveness monitor, per container id. */
  livenessRestarts: ReadonlyMap<string, number>;
}

/** Every service this daemon runs. */
export async function listServices(
  ctx: DeployContext,
  view: OperationView,
): Promise<ServiceStatus[]> {
  const byService = new Map<string, Replica[]>();
  for (const r of await serviceReplicas(ctx)) {
    const s = r.labels[LABEL.service] ?? "";
    byService.set(s, [...(byService.get(s) ?? []), r]);
  }
  const out: ServiceStatus[] = [];
  for (const [service, replicas] of [...byService].sort()) {
    // while a deploy switches, the release it started from still counts
    const release = view.serving.has(service)
      ? view.serving.get(service)!
      : currentRelease(replicas);
    const mine = replicas.filter((r) => r.release === release);
    const spec = specFromLabels(mine[0]?.labels ?? {});
    const instances = [];
    for (const r of mine) {
      const c = await ctx.runtime.inspect(r.id);
      instances.push({
        id: r.id.slice(0, 12),
        name: r.name,
        state: c?.state ?? "gone",
        restarts: (c?.restartCount ?? 0) +
          (view.livenessRestarts.get(r.id) ?? 0),
        ...(c ? { log: describeLog(c.log) } : {}),
      });
    }
    const running = instances.filter((i) => i.state === "running").length;
    const want = spec ? replicaCount(spec) : mine.length;
    out.push({
      service,
      release,
      urls: spec?.urls.map((u) => u.url) ?? [],
      state: view.busy(service)
        ? `deploying (${view.phases.get(service) ?? "queued"})`
        : running === 0
        ? "stopped"
        : running < want
        ? "degraded"
        : "running",
      instances,
      releases: await imageReleases(ctx, service),
    });
  }
  return out;
}

/** The release serving: the newest with a running container, else the newest. */
export function currentRelease(replicas: Replica[]): number | null {
  const running = replicas.filter((r) => r.running).map((r) => r.release);
  const pool = running.length ? running : replicas.map((r) => r.release);
  return pool.length ? Math.max(...pool) : null;
}
