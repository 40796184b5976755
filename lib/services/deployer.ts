/**
 * @module
 * `Deployer`: the container half of the daemon. It turns a directory and its
 * ServiceSpec into a running release (build, then the spec's strategy), rolls
 * back to a kept release without building, restarts, removes, lists and
 * streams logs, one operation per service at a time. All state is read back
 * from Docker labels; a marker file per running deploy lets recovery
 * (`recover()`) finish or undo a deploy the daemon died in.
 */
import { InputError, NotFoundError } from "../errors.ts";
import type { ServiceSpec } from "../spec/types.ts";
import { BuildQueue, buildRelease, ReleaseBuildError } from "./build.ts";
import { type BuildCgroup, prepareBuildCgroup } from "./build_cgroup.ts";
import { checkPublish, checkVolumes, logLimits } from "./container_config.ts";
import { checkAdminDomain, checkPublishedPorts } from "./reserved.ts";
import {
  addTraffic,
  type DeployContext,
  type Replica,
  replicaCount,
  serviceReplicas,
  waitReplicaReady,
} from "./context.ts";
import { DeployMarkers } from "./deploy_marker.ts";
import { imageRef, imageRepo, specFromLabels } from "./labels.ts";
import { mergeLogs } from "./logs.ts";
import { pruneReleaseEnv } from "./release_env.ts";
import { imageReleases, nextRelease, prune, releaseSpec } from "./releases.ts";
import { ServiceLocks } from "./service_locks.ts";
import { recoverAll, type RecoveryOutcome } from "./recovery.ts";
import { type DeployPhase, runStrategy } from "./strategies.ts";
import { currentRelease, listServices, type ServiceStatus } from "./status.ts";

/** How a deploy or rollback ended. */
export interface ServiceDeployResult {
  ok: boolean;
  service: string;
  /** The release serving now (the old one when `ok` is false). */
  release: number | null;
  error?: string;
}

/** The phases map, telling `onPhase` of every change. */
class PhaseMap extends Map<string, DeployPhase> {
  readonly #on: DeployContext["onPhase"];
  constructor(on: DeployContext["onPhase"]) {
    super();
    this.#on = on;
  }
  override set(service: string, phase: DeployPhase): this {
    super.set(service, phase);
    this.#on?.(service, phase);
    return this;
  }
  override delete(service: string): boolean {
    const had = super.delete(service);
    if (had) this.#on?.(service, undefined);
    return had;
  }
}

/** The container deploy engine. */
export class Deployer {
  readonly locks: ServiceLocks = new ServiceLocks();
  readonly markers: DeployMarkers;
  /** The release serving when each running deploy began (null: none). */
  readonly #serving = new Map<string, number | null>();
  /** The phase of each running deploy or rollback. */
  readonly phases: Map<string, DeployPhase>;
  /** Restarts done by the liveness monitor, per container id. */
  readonly livenessRestarts: Map<string, number> = new Map();

  /** One build at a time on this host. */
  readonly builds: BuildQueue;

  #buildCgroup: Promise<BuildCgroup | null> | null = null;

  /**
   * The builds' parent cgroup, set up on the first build (logged once);
   * asked again after an engine that did not answer.
   */
  #buildParent(): Promise<string | null> {
    const { runtime, log } = this.ctx;
    if (!runtime.cgroupDriver) return Promise.resolve(null);
    this.#buildCgroup ??= runtime.cgroupDriver().then(
      async (driver) => {
        const cg = await prepareBuildCgroup(driver);
        if (cg.parent) log.info(cg.note);
        else log.warn(cg.note);
        return cg;
      },
      () => {
        this.#buildCgroup = null;
        return null;
      },
    );
    return this.#buildCgroup.then((cg) => cg?.parent ?? null);
  }

  constructor(readonly ctx: DeployContext) {
    this.phases = new PhaseMap(ctx.onPhase);
    this.builds = new BuildQueue(ctx.clock);
    this.markers = new DeployMarkers(`${ctx.config.server.dataDir}/deploys`);
  }

  /**
   * Start-up: finishes or rolls back deploys the daemon died in and puts
   * every serving container back into traffic.
   */
  recover(): Promise<RecoveryOutcome[]> {
    return recoverAll(this.ctx, this.markers);
  }

  /** Builds `dir` and rolls `spec` out as a new release. */
  deploy(
    spec: ServiceSpec,
    dir: string,
    progress: (line: string) => void,
  ): Promise<ServiceDeployResult> {
    return this.locks.run(
      spec.service,
      () => this.#phased(spec.service, () => this.#deploy(spec, dir, progress)),
      () =>
        progress(`queued: another operation on ${spec.service} is in progress`),
    );
  }

  /**
   * The refusals known before building: URL claims (other services,
   * functions, the admin domain), `publish` (strategy, the daemon's own
   * ports, another service's ports) and volumes. Throws `InputError`s. The
   * push API runs it before answering; `deploy` runs it again under the
   * service lock, as another deploy may have claimed something since.
   */
  async check(spec: ServiceSpec): Promise<void> {
    const { ctx } = this;
    checkAdminDomain(spec.file, spec.urls, ctx.config);
    ctx.traffic.checkUrls(spec.service, spec.urls);
    checkPublish(spec);
    if (spec.publish.length) {
      const others = new Map<string, ServiceSpec["publish"]>();
      for (const r of await serviceReplicas(ctx)) {
        const s = specFromLabels(r.labels);
        if (!s || s.service === spec.service) continue;
        others.set(s.service, [...(others.get(s.service) ?? []), ...s.publish]);
      }
      checkPublishedPorts(
        spec.file,
        spec.service,
        spec.publish,
        ctx.config,
        others,
      );
    }
    await checkVolumes(spec, ctx.config);
    logLimits(spec, ctx.config); // refuses a mypaas.logs above the host's cap
  }

  async #phased<T>(service: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } finally {
      this.phases.delete(service);
      this.#serving.delete(service);
    }
  }

  async #deploy(
    spec: ServiceSpec,
    dir: string,
    progress: (line: string) => void,
  ): Promise<ServiceDeployResult> {
    const { ctx } = this;
    await this.check(spec);
    const old = await serviceReplicas(ctx, spec.service);
    const current = currentRelease(old);
    const release = await nextRelease(ctx, spec.service);
    progress(
      `deploying ${spec.service} release ${release} (${spec.scale.strategy}, ${
        replicaCount(spec)
      } container(s))`,
    );
    this.phases.set(spec.service, "building");
    try {
      await buildRelease(ctx.runtime, {
        dir,
        spec,
        release,
        progress,
        dataDir: ctx.config.server.dataDir,
        queue: this.builds,
        docker: ctx.config.docker,
        cgroupParent: await this.#buildParent(),
      });
    } catch (err) {
      if (!(err instanceof ReleaseBuildError)) throw err;
      progress(`build failed; ${describe(spec.service, current)} is untouched`);
      return {
        ok: false,
        service: spec.service,
        release: current,
        error: err.message,
      };
    }
    const result = await this.#switch(spec, release, current, old, progress);
    if (!result.ok) {
      await ctx.runtime.removeImage(imageRef(spec.service, release)).catch(
        () => {},
      );
    }
    return result;
  }

  /** Runs the strategy under a marker; shared by deploy and rollback. */
  async #switch(
    spec: ServiceSpec,
    release: number,
    current: number | null,
    old: Replica[],
    progress: (line: string) => void,
  ): Promise<ServiceDeployResult> {
    const { ctx } = this;
    this.#serving.set(spec.service, current);
    await this.markers.write({
      service: spec.service,
      from: current,
      to: release,
      startedAt: Date.now(),
    });
    ctx.traffic.setService(spec);
    const res = await runStrategy(
      ctx,
      spec,
      release,
      old.filter((r) => r.release !== release),
      progress,
      (p) => this.phases.set(spec.service, p),
    );
    await this.markers.remove(spec.service);
    if (!res.ok) {
      const oldSpec = old.map((r) => specFromLabels(r.labels)).find(Boolean);
      if (oldSpec) ctx.traffic.setService(oldSpec);
      else if (current === null) ctx.traffic.removeService(spec.service);
      progress(`${describe(spec.service, current)} keeps serving`);
      return {
        ok: false,
        service: spec.service,
        release: current,
        error: res.why,
      };
    }
    await prune(ctx, spec.service, release);
    progress(`${spec.service} now runs release ${release}`);
    return { ok: true, service: spec.service, release };
  }

  /** Returns to a kept release (default: the one before the current) without building. */
  rollback(
    service: string,
    release: number | undefined,
    progress: (line: string) => void,
  ): Promise<ServiceDeployResult> {
    return this.locks.run(
      service,
      () =>
        this.#phased(service, async () => {
          const { ctx } = this;
          const old = await serviceReplicas(ctx, service);
          const current = currentRelease(old);
          const kept = await imageReleases(ctx, service);
          if (!old.length && !kept.length) {
            throw new NotFoundError(`no service named "${service}"`);
          }
          const target = release ??
            kept.find((n) => current === null || n < current);
          if (target === undefined) {
            throw new InputError(
              `${service} has no release before ${current} to roll back to; kept: ${
                kept.join(", ") || "none"
              }`,
            );
          }
          if (!kept.includes(target)) {
            throw new NotFoundError(
              `release ${target} of ${service} is not kept; kept: ${
                kept.join(", ")
              }`,
            );
          }
          if (target === current) {
            throw new InputError(`${service} already runs release ${target}`);
          }
          const spec = await releaseSpec(ctx, service, target);
          if (!spec) {
            throw new NotFoundError(
              `the image of ${service} release ${target} carries no spec`,
            );
          }
          await checkVolumes(spec, ctx.config);
          progress(
            `rolling ${service} back from release ${current} to ${target} (no build)`,
          );
          return await this.#switch(spec, target, current, old, progress);
        }),
      () => progress(`queued: another operation on ${service} is in progress`),
    );
  }

  /** Stops and removes a service's containers and images. */
  remove(service: string): Promise<void> {
    return this.locks.run(service, async () => {
      const { ctx } = this;
      const replicas = await serviceReplicas(ctx, service);
      const kept = await imageReleases(ctx, service);
      if (!replicas.length && !kept.length) {
        throw new NotFoundError(`no service named "${service}"`);
      }
      ctx.traffic.removeService(service);
      for (const r of replicas) await ctx.runtime.remove(r.id, { force: true });
      for (const n of kept) {
        await ctx.runtime.removeImage(imageRef(service, n)).catch((e) =>
          ctx.log.warn(
            `remove ${imageRepo(service)}:${n}: ${(e as Error).message}`,
          )
        );
      }
      await this.markers.remove(service);
      await pruneReleaseEnv(ctx.config.server.dataDir, service, []);
    });
  }

  /** Restarts a service's containers one at a time, each drained first. */
  restart(service: string, progress: (line: string) => void = () => {}) {
    return this.locks.run(service, async () => {
      const { ctx } = this;
      const all = await serviceReplicas(ctx, service);
      const current = currentRelease(all);
      const replicas = all.filter((r) => r.release === current);
      if (!replicas.length) {
        throw new NotFoundError(`no service named "${service}"`);
      }
      for (const r of replicas) {
        const spec = specFromLabels(r.labels);
        if (!spec) continue;
        progress(`restarting ${r.name}`);
        await ctx.traffic.drainUpstream(
          service,
          r.id,
          ctx.config.proxy.drainTimeout,
        );
        await ctx.runtime.restart(r.id, { timeoutS: 10 });
        const ready = await waitReplicaReady(ctx, spec, r.id);
        if (!ready.ok) {
          throw new Error(
            `${r.name} is not ready after a restart: ${ready.why}`,
          );
        }
        await addTraffic(ctx, spec, r);
      }
    });
  }

  /** Every service this daemon runs. */
  list(): Promise<ServiceStatus[]> {
    return listServices(this.ctx, {
      serving: this.#serving,
      busy: (service) => this.locks.busy(service),
      phases: this.phases,
      livenessRestarts: this.livenessRestarts,
    });
  }

  /** Log lines of the service's current containers, `name | line`. */
  async *logs(
    service: string,
    opts: { follow: boolean; tail?: number; signal?: AbortSignal },
  ): AsyncIterable<string> {
    const replicas = await serviceReplicas(this.ctx, service);
    const release = currentRelease(replicas);
    const mine = replicas.filter((r) => r.release === release);
    if (!mine.length) throw new NotFoundError(`no service named "${service}"`);
    yield* mergeLogs(this.ctx.runtime, mine, opts);
  }
}

function describe(service: string, release: number | null): string {
  return release === null
    ? `${service} (not running before)`
    : `${service} release ${release}`;
}
