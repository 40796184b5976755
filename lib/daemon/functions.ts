/**
 * @module
 * The function side of the Platform port (lib/daemon/platform.ts) and the
 * daemon Part that owns it: installs the isolate runtime, starts the host
 * load sampler and the isolate pool, rebuilds the function deployments from
 * their release files, and answers deploy / list / remove / restart /
 * rollback / logs for functions. The composite Platform sends a directory
 * here when `deploymentKind()` (deployment_kind.ts) says so, and a name here
 * when `has(name)`.
 */
import type { ResolvedConfig } from "../config/mod.ts";
import { dataPaths } from "../config/mod.ts";
import { InputError, isInputError } from "../errors.ts";
import { FunctionDeployments } from "../functions/deployments.ts";
import {
  type FunctionRequestInfo,
  type FunctionRoutes,
  releaseKey,
} from "../functions/target.ts";
import { formatLogLine, LogStore } from "../functions/log_store.ts";
import { ReleaseStore } from "../functions/releases.ts";
import { sanitizeName } from "../spec/mod.ts";
import { readSpecForDeploy } from "./read_spec.ts";
import {
  currentDenyList,
  findDeno,
  HostLoad,
  installRuntime,
  type IsolateLog,
  IsolatePool,
  type PoolEvents,
  poolOptions,
  poolSettings,
} from "../isolates/mod.ts";
import type { Logger } from "../log.ts";
import type { FunctionSpec } from "../spec/types.ts";
import type {
  CheckedDeploy,
  DeploymentStatus,
  DeployOptions,
  DeployResult,
  Platform,
} from "./platform.ts";
import { checkAdminDomain } from "../services/reserved.ts";

/** Reads a function directory's spec (lib/spec's readSpec fits). */
export type ReadFunctionSpec = (
  dir: string,
  opts: DeployOptions & { name?: string },
) => Promise<FunctionSpec>;

/** Options of the function side. */
export interface FunctionsOptions {
  log: Logger;
  /** The proxy router; without one, `handleByHost` is the way in. */
  routes?: CheckedRoutes;
  /** `deno` binary; found next to / on PATH when omitted. */
  denoPath?: string;
  /** PATH to search for `deno` (the composition root passes the env's). */
  pathEnv?: string;
  /** Home directory for lib/spec (default "/"). */
  home?: string;
  /** Reads a function directory (default: lib/spec's readSpec). */
  readSpec?: ReadFunctionSpec;
  /** Also gets every console line of the isolates (telemetry). */
  onLog?: (line: IsolateLog) => void;
  /** Cold starts and boots (metrics, traces). */
  poolEvents?: PoolEvents;
}

/** The routes, and (the proxy's Router has it) a claim check before bundling. */
export type CheckedRoutes = FunctionRoutes & {
  checkUrls?(name: string, urls: FunctionSpec["urls"]): void;
};

const noRoutes: FunctionRoutes = { setHandler() {}, removeHandler() {} };

/** The function side: a daemon Part and the function half of Platform. */
export class FunctionsPlatform implements Platform {
  readonly name = "functions";
  readonly logStore: LogStore;
  readonly store: ReleaseStore;
  #pool: IsolatePool | null = null;
  #deployments: FunctionDeployments | null = null;
  #hostLoad = new HostLoad(1000);
  /** The deno binary in use (reported at start). */
  denoPath: string | null = null;

  constructor(
    readonly config: ResolvedConfig,
    readonly options: FunctionsOptions,
  ) {
    const paths = dataPaths(config);
    this.store = new ReleaseStore(paths.functions);
    this.logStore = new LogStore(`${paths.logs}/functions`);
  }

  /** The pool (tests and benchmarks read its stats). */
  get pool(): IsolatePool {
    if (!this.#pool) throw new Error("the functions part is not started");
    return this.#pool;
  }

  /** The deployments (request side). */
  get deployments(): FunctionDeployments {
    if (!this.#deployments) {
      throw new Error("the functions part is not started");
    }
    return this.#deployments;
  }

  async start(): Promise<void> {
    const paths = dataPaths(this.config);
    const denoPath = await findDeno(
      this.options.denoPath,
      this.options.pathEnv,
    );
    if (!denoPath) {
      throw new Error(
        "no deno binary for isolate workers: install deno 2.9 on PATH or set MYPAAS_DENO",
      );
    }
    this.denoPath = denoPath;
    this.options.log.info(`isolate workers and bundling use ${denoPath}`);
    // Tenants' code and env live here: private to the daemon's user.
    for (const d of ["", "/bundles", "/_deno_dir", "/_sockets"]) {
      await Deno.mkdir(`${paths.functions}${d}`, {
        recursive: true,
        mode: 0o700,
      });
    }
    const runtimeDir = await installRuntime(`${paths.functions}/_runtime`);
    const bundlesDir = `${paths.functions}/bundles`;
    await this.#hostLoad.start();
    const pool = new IsolatePool(poolOptions(this.config, {
      denoPath,
      runtimeDir,
      socketDir: `${paths.functions}/_sockets`,
      denoDir: `${paths.functions}/_deno_dir`,
      artifactDirs: [paths.functions],
      hostLoad: this.#hostLoad.current,
      log: this.options.log.child("isolates"),
      onLog: (l) => {
        const name = l.deployment.split("@")[0] ?? "";
        if (name) this.logStore.add(name, l);
        this.options.onLog?.(l);
      },
      ...(this.options.poolEvents ? { events: this.options.poolEvents } : {}),
    }));
    this.#pool = pool;
    await pool.start();
    const config = this.config;
    this.#deployments = new FunctionDeployments({
      store: this.store,
      pool,
      routes: this.options.routes ?? noRoutes,
      bundlesDir,
      denoPath,
      runtimeDir,
      denyNet: () => currentDenyList(config.isolates.allowNet),
      denoDir: `${paths.functions}/_deno_dir`,
      // read per deploy: a reload may change it
      get keepReleases() {
        return config.server.keepReleases;
      },
      log: this.options.log.child("functions"),
    });
    await this.#deployments.load();
  }

  /**
   * Applies a reloaded config (SIGHUP): the pool's sizing ratio, host
   * targets, idle timeout, wall limit and queue wait (`[proxy]
   * unavailable_wait`); `keep_releases` is read per deploy. The keys the
   * schema marks `restart` keep their running values (Daemon.reload).
   */
  reload(config: ResolvedConfig): Promise<void> {
    this.#pool?.reload(poolSettings(config));
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    await this.#pool?.stop();
    await this.#hostLoad.stop();
    await this.logStore.flushed();
  }

  /** True when `name` is a function deployment. */
  has(name: string): boolean {
    return this.#deployments?.get(name) !== undefined;
  }

  /** Requests with `x-deno-deploy-id`: checked before the route table. */
  handleDeployId(
    req: Request,
    info: FunctionRequestInfo,
  ): Promise<Response> | null {
    return this.#deployments?.handleDeployId(req, info) ?? null;
  }

  /** Host routing without the proxy (tests, a daemon without listeners). */
  handleByHost(
    req: Request,
    info: FunctionRequestInfo,
  ): Promise<Response> | null {
    return this.#deployments?.handleByHost(req, info) ?? null;
  }

  async deploy(
    dir: string,
    opts: DeployOptions & { name?: string },
    progress: (line: string) => void,
  ): Promise<DeployResult> {
    return await (await this.check(dir, opts)).run(progress);
  }

  /**
   * Reads the function's spec and refuses a URL on the admin domain or one
   * another deployment's route holds (409); the claims are checked again
   * when it deploys.
   */
  async check(
    dir: string,
    opts: DeployOptions & { name?: string },
  ): Promise<CheckedDeploy> {
    const spec = await (this.options.readSpec ?? this.#readSpec)(dir, opts);
    const file = spec.entrypoint;
    checkAdminDomain(file, spec.urls, this.config);
    this.options.routes?.checkUrls?.(spec.service, spec.urls);
    return {
      spec,
      run: async (progress) => {
        checkAdminDomain(file, spec.urls, this.config);
        try {
          const r = await this.deployments.deploy(
            spec,
            dir,
            opts.actor ? { actor: opts.actor } : {},
            progress,
          );
          return {
            ok: true,
            service: r.name,
            kind: "function",
            release: r.release,
          };
        } catch (err) {
          if (isInputError(err) && (err as InputError).status !== 422) {
            throw err;
          }
          const error = (err as Error).message;
          progress(`deploy of ${spec.service} failed: ${error}`);
          return {
            ok: false,
            service: spec.service,
            kind: "function",
            release: this.deployments.get(spec.service)?.release ?? null,
            error,
          };
        }
      },
    };
  }

  #readSpec: ReadFunctionSpec = async (dir, opts) => {
    const spec = await readSpecForDeploy(
      this.config,
      this.options.home ?? "/",
    )(dir, opts);
    if (spec.kind !== "function") {
      throw new InputError(
        `${dir} has a Dockerfile: it is a container service, not a function`,
      );
    }
    return opts.name ? { ...spec, service: opts.name } : spec;
  };

  /**
   * The serverless seed's API: deploys one file (the body of
   * `POST /daemon/functions/NAME`) as function NAME.
   */
  async deploySingleFile(
    name: string,
    source: string,
    opts: DeployOptions,
    progress: (line: string) => void,
  ): Promise<DeployResult> {
    return await (await this.checkSingleFile(name, source, opts)).run(
      progress,
    );
  }

  /** `check` for one source file (the body of `POST /daemon/functions/NAME`). */
  async checkSingleFile(
    name: string,
    source: string,
    opts: DeployOptions,
  ): Promise<CheckedDeploy> {
    const clean = sanitizeName(name);
    if (!clean || clean !== name) {
      throw new InputError(
        `function name "${name}" must be lower-case letters, digits and dashes`,
      );
    }
    const dir = await Deno.makeTempDir({ prefix: "mypaas-fn-" });
    const cleanup = () => Deno.remove(dir, { recursive: true }).catch(() => {});
    try {
      const entry = opts.entrypoint ?? "main.ts";
      await Deno.writeTextFile(`${dir}/${entry}`, source);
      const checked = await this.check(dir, {
        displayDir: ".",
        ...opts,
        entrypoint: entry,
        name,
      });
      return {
        spec: checked.spec!,
        run: async (progress) => {
          try {
            return await checked.run(progress);
          } finally {
            await cleanup();
          }
        },
      };
    } catch (err) {
      await cleanup();
      throw err;
    }
  }

  list(): Promise<DeploymentStatus[]> {
    const out: DeploymentStatus[] = [];
    for (const r of this.deployments.current()) {
      const isolates = this.pool.isolates(releaseKey(r));
      // A failed isolate is replaced, not restarted: the release's count
      // goes on its first isolate, so a sum over instances is right.
      const restarts = this.pool.restarts(releaseKey(r));
      out.push({
        service: r.name,
        kind: "function",
        release: r.release,
        urls: r.urls.map((u) => u.url),
        state: isolates.length ? "running" : "idle",
        instances: isolates.map((i, n) => ({
          id: i.instanceId ? `${i.id} (${i.instanceId})` : i.id,
          state: i.state,
          restarts: n === 0 ? restarts : 0,
        })),
        releases: [],
        pool: this.pool.counters(releaseKey(r)),
      });
    }
    return Promise.all(out.map(async (s) => ({
      ...s,
      releases: await this.store.releases(s.service),
    })));
  }

  async remove(service: string): Promise<void> {
    await this.deployments.remove(service);
    this.logStore.forget(service);
  }

  restart(service: string): Promise<void> {
    const r = this.deployments.get(service);
    if (!r) return Promise.reject(new InputError(`no function "${service}"`));
    this.pool.retire(releaseKey(r));
    return Promise.resolve();
  }

  async rollback(
    service: string,
    release: number | undefined,
    progress: (line: string) => void,
  ): Promise<DeployResult> {
    const r = await this.deployments.rollback(service, release);
    progress(`${service} now serves release ${r.release}`);
    return { ok: true, service, kind: "function", release: r.release };
  }

  async *logs(
    service: string,
    opts: { follow: boolean; tail?: number; signal?: AbortSignal },
  ): AsyncIterable<string> {
    for (const l of this.logStore.recent(service, opts.tail)) {
      yield formatLogLine(l);
    }
    if (!opts.follow) return;
    for await (const l of this.logStore.follow(service, opts.signal)) {
      yield formatLogLine(l);
    }
  }
}
