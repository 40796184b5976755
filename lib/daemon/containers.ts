/**
 * @module
 * The container side of the Platform port, and the daemon Part that owns it:
 * at start it connects to Docker, recovers every service from the labels
 * (finishing or rolling back a deploy the daemon died in) and starts the
 * liveness monitor. When Docker does not answer the daemon still starts
 * (functions need no Docker); container operations then fail with a clear
 * error until the engine answers, and recovery runs at that point.
 *
 * It is also the composite Platform the front doors use: `deploymentKind()`
 * (deployment_kind.ts) says which side deploys a directory, and a name the
 * function side `has()` goes to `functions`.
 */
import type { ResolvedConfig } from "../config/mod.ts";
import {
  type ContainerRuntime,
  DockerRuntime,
  RuntimeUnavailableError,
} from "../docker/mod.ts";
import {
  ContainerEvents,
  Deployer,
  LivenessMonitor,
  netProbe,
  noTraffic,
  type Prober,
  type TrafficControl,
} from "../services/mod.ts";
import type { Logger } from "../log.ts";
import { deploymentKind, type FunctionSide } from "./deployment_kind.ts";
import {
  checkDeploy,
  type CheckedDeploy,
  type DeploymentStatus,
  type DeployOptions,
  type DeployResult,
  type Platform,
  type ReadSpec,
} from "./platform.ts";

export type { FunctionSide };

/** Options of the container side. */
export interface ContainerPlatformOptions {
  log: Logger;
  readSpec: ReadSpec;
  /** Defaults to the Docker engine at `[docker] socket`. */
  runtime?: ContainerRuntime;
  /** The proxy's router (`noTraffic` without one: a test, no proxy). */
  traffic?: TrafficControl;
  probe?: Prober;
  /** How long a new container may take to become ready (default 60 s). */
  readyTimeoutMs?: number;
  /** Where function deployments go (the isolates side). */
  functions?: FunctionSide;
  /** Told each deploy phase of a service (deploy spans). */
  onPhase?: (service: string, phase: string | undefined) => void;
}

/** Container services behind the Platform port; a daemon Part. */
export class ContainerPlatform implements Platform {
  readonly name = "containers";
  readonly deployer: Deployer;
  readonly liveness: LivenessMonitor;
  readonly events: ContainerEvents;
  #ready: Promise<void> | null = null;
  #started = false;

  constructor(
    readonly config: ResolvedConfig,
    readonly options: ContainerPlatformOptions,
  ) {
    const runtime = options.runtime ??
      new DockerRuntime(config.docker.socket);
    this.deployer = new Deployer({
      runtime,
      config,
      traffic: options.traffic ?? noTraffic,
      probe: options.probe ?? netProbe,
      log: options.log,
      owner: config.docker.network,
      readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
      ...(options.onPhase ? { onPhase: options.onPhase } : {}),
    });
    this.liveness = new LivenessMonitor(
      this.deployer.ctx,
      this.deployer.livenessRestarts,
      this.deployer.locks,
    );
    this.events = new ContainerEvents(this.deployer.ctx, this.deployer.locks);
  }

  async start(): Promise<void> {
    this.#started = true;
    try {
      await this.#docker();
    } catch (err) {
      this.options.log.warn(
        `${
          (err as Error).message
        }; container services are unavailable until it answers`,
      );
    }
  }

  async stop(): Promise<void> {
    this.#started = false;
    await this.liveness.stop();
    await this.events.stop();
  }

  /** Connects once: ping, then recovery. Retried on the next call after a failure. */
  #docker(): Promise<void> {
    this.#ready ??= (async () => {
      const { runtime } = this.deployer.ctx;
      await runtime.ping();
      const outcomes = await this.deployer.recover();
      this.options.log.info(
        `docker ready; ${outcomes.length} service(s) recovered`,
      );
      // liveness checks only once Docker answers (no warnings every tick)
      if (this.#started) {
        await this.liveness.start();
        await this.events.start();
      }
    })().catch((err) => {
      this.#ready = null;
      if (err instanceof RuntimeUnavailableError) throw err;
      throw new RuntimeUnavailableError(
        `cannot use Docker: ${(err as Error).message}`,
        { cause: err },
      );
    });
    return this.#ready;
  }

  async deploy(
    dir: string,
    opts: DeployOptions,
    progress: (line: string) => void,
  ): Promise<DeployResult> {
    return await (await this.check(dir, opts)).run(progress);
  }

  /**
   * Dispatches to the function side or checks the service's spec against
   * the running state (URLs, the admin domain, published ports, volumes).
   */
  async check(dir: string, opts: DeployOptions): Promise<CheckedDeploy> {
    const target = await deploymentKind(
      dir,
      opts,
      this.options.readSpec,
      this.options.functions,
    );
    if (target.kind === "function") {
      return await checkDeploy(target.functions, dir, opts);
    }
    const { spec } = target;
    await this.#docker();
    await this.deployer.check(spec);
    return {
      spec,
      run: async (progress) => {
        const r = await this.deployer.deploy(spec, dir, progress);
        return { ...r, kind: "service" };
      },
    };
  }

  async list(): Promise<DeploymentStatus[]> {
    const out: DeploymentStatus[] = [];
    let dockerError: Error | null = null;
    try {
      await this.#docker();
      for (const s of await this.deployer.list()) {
        out.push({
          service: s.service,
          kind: "service",
          release: s.release,
          urls: s.urls,
          state: s.state,
          instances: s.instances.map((i) => ({
            id: i.name,
            state: i.state,
            restarts: i.restarts,
            ...(i.log ? { log: i.log } : {}),
          })),
          releases: s.releases,
        });
      }
    } catch (err) {
      dockerError = err as Error;
    }
    if (this.options.functions) {
      out.push(...await this.options.functions.list());
    }
    if (dockerError && !this.options.functions) throw dockerError;
    return out.sort((a, b) => a.service < b.service ? -1 : 1);
  }

  async remove(service: string, actor?: string): Promise<void> {
    if (this.options.functions?.has(service)) {
      return await this.options.functions.remove(service, actor);
    }
    await this.#docker();
    await this.deployer.remove(service);
  }

  async restart(service: string, actor?: string): Promise<void> {
    if (this.options.functions?.has(service)) {
      return await this.options.functions.restart(service, actor);
    }
    await this.#docker();
    await this.deployer.restart(service);
  }

  async rollback(
    service: string,
    release: number | undefined,
    progress: (line: string) => void,
    actor?: string,
  ): Promise<DeployResult> {
    if (this.options.functions?.has(service)) {
      return await this.options.functions.rollback(
        service,
        release,
        progress,
        actor,
      );
    }
    await this.#docker();
    const r = await this.deployer.rollback(service, release, progress);
    return { ...r, kind: "service" };
  }

  async *logs(
    service: string,
    opts: { follow: boolean; tail?: number; signal?: AbortSignal },
  ): AsyncIterable<string> {
    if (this.options.functions?.has(service)) {
      yield* this.options.functions.logs(service, opts);
      return;
    }
    await this.#docker();
    yield* this.deployer.logs(service, opts);
  }

  /** True once start() ran and stop() did not. */
  get started(): boolean {
    return this.#started;
  }
}
