/**
 * @module
 * Function deployments: deploy (bundle or copy, write an immutable release,
 * load-check it in an isolate, then switch atomically), rollback, remove,
 * and the request side (by the router's Host match, or by the
 * `x-deno-deploy-id` header). State is rebuilt from the release files.
 */
import { InputError, NotFoundError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { FunctionSpec } from "../spec/types.ts";
import { bundleFunction, copyTree, sha256Hex } from "./bundle.ts";
import type { FunctionRelease, ReleaseStore } from "./releases.ts";
import {
  DEPLOY_ID_HEADER,
  type FunctionHandler,
  type FunctionPool,
  type FunctionRequestInfo,
  type FunctionRoutes,
  INSTANCE_ID_HEADER,
  INSTANCE_ID_PARAM,
  releaseKey,
  targetOf,
} from "./target.ts";

/** Dependencies of the function side. */
export interface DeploymentsDeps {
  store: ReleaseStore;
  pool: FunctionPool;
  routes: FunctionRoutes;
  bundlesDir: string;
  /** `deno` for the bundler. */
  denoPath: string;
  /** The installed isolate runtime (holds bundle_main.ts). */
  runtimeDir: string;
  denoDir?: string;
  /** The isolates' deny list, as of now (the bundler gets it too). */
  denyNet: () => string[];
  keepReleases: number;
  log: Logger;
}

/** The function deployments of this host. */
export class FunctionDeployments {
  readonly #current = new Map<string, FunctionRelease>();
  #locks = new Map<string, Promise<unknown>>();

  constructor(readonly deps: DeploymentsDeps) {}

  /** Rebuilds state from the release files and publishes the routes. */
  async load(): Promise<void> {
    for (const name of await this.deps.store.names()) {
      const n = await this.deps.store.current(name);
      if (n === null) continue;
      try {
        this.#publish(await this.deps.store.read(name, n));
      } catch (err) {
        this.deps.log.error(
          `function ${name} release ${n} not restored: ${
            (err as Error).message
          }`,
        );
      }
    }
  }

  /** The serving release of every function. */
  current(): FunctionRelease[] {
    return [...this.#current.values()];
  }

  /** The serving release of one function. */
  get(name: string): FunctionRelease | undefined {
    return this.#current.get(name);
  }

  /** Deploys a function directory as a new release. */
  deploy(
    spec: FunctionSpec,
    dir: string,
    opts: { actor?: string },
    progress: (line: string) => void,
  ): Promise<FunctionRelease> {
    return this.#locked(
      spec.service,
      () => this.#deploy(spec, dir, opts, progress),
    );
  }

  async #deploy(
    spec: FunctionSpec,
    dir: string,
    opts: { actor?: string },
    progress: (line: string) => void,
  ): Promise<FunctionRelease> {
    const { store } = this.deps;
    const name = spec.service;
    for (const [other, r] of this.#current) {
      const clash = other !== name &&
        r.urls.find((u) =>
          spec.urls.some((s) => s.host === u.host && s.path === u.path)
        );
      if (clash) {
        throw new InputError(
          `URL "${clash.url}" is already served by function "${other}": remove it there first or pick another URL`,
          { status: 409 },
        );
      }
    }
    const { release, dir: releaseDir } = await store.allocate(name);
    let manifest: FunctionRelease;
    try {
      let artifact: string, sha256: string;
      if (spec.skipOptimize) {
        progress(`copying sources of ${name} (--skip-optimize)`);
        await copyTree(dir, `${releaseDir}/src`);
        artifact = `${releaseDir}/src/${spec.entrypoint}`;
        sha256 = await sha256Hex(await Deno.readFile(artifact));
      } else {
        progress(`bundling ${spec.entrypoint} (sandboxed Deno.bundle)`);
        const t0 = performance.now();
        const a = await bundleFunction({
          denoPath: this.deps.denoPath,
          runtimeDir: this.deps.runtimeDir,
          denyNet: this.deps.denyNet(),
          dir,
          entrypoint: spec.entrypoint,
          bundlesDir: this.deps.bundlesDir,
          ...(this.deps.denoDir ? { denoDir: this.deps.denoDir } : {}),
        });
        artifact = a.path;
        sha256 = a.sha256;
        progress(
          `bundle ${a.sha256.slice(0, 12)} (${a.bytes} bytes) in ${
            Math.round(performance.now() - t0)
          } ms`,
        );
      }
      manifest = {
        name,
        release,
        createdAt: new Date().toISOString(),
        entrypoint: spec.entrypoint,
        urls: spec.urls,
        env: spec.env,
        optimized: !spec.skipOptimize,
        artifact,
        sha256,
      };
      if (spec.idleMs !== undefined) manifest.idleMs = spec.idleMs;
      if (opts.actor) manifest.actor = opts.actor;
      progress(`loading release ${release} in an isolate`);
      try {
        await this.deps.pool.warm(targetOf(manifest));
      } catch (err) {
        throw new InputError(
          `${spec.entrypoint} failed to load: ${(err as Error).message}`,
          { status: 422 },
        );
      }
      await store.write(manifest);
      await this.#switch(manifest);
    } catch (err) {
      this.deps.pool.retire(`${name}@${release}`);
      await store.discard(name, release);
      // A refused first release leaves no trace a restart could read.
      if (!this.#current.has(name) && await store.current(name) === null) {
        await store.removeAll(name).catch(() => {});
      }
      throw err;
    }
    progress(`${name} release ${release} is live`);
    // Only after the switch, and never at the live release's expense.
    await this.#prune(name).catch((err) =>
      this.deps.log.warn(`pruning ${name} failed: ${(err as Error).message}`)
    );
    return manifest;
  }

  /** Serves an older release again (the previous one by default). */
  rollback(name: string, release?: number): Promise<FunctionRelease> {
    return this.#locked(name, async () => {
      const cur = this.#current.get(name);
      if (!cur) throw new NotFoundError(`no function "${name}"`);
      const all = await this.deps.store.releases(name);
      const to = release ?? all.find((n) => n < cur.release);
      if (to === undefined || !all.includes(to)) {
        throw new NotFoundError(
          release === undefined
            ? `function "${name}" has no release before ${cur.release} to roll back to`
            : `function "${name}" has no release ${release} (kept: ${
              all.join(", ")
            })`,
        );
      }
      const manifest = await this.deps.store.read(name, to);
      await this.#switch(manifest);
      return manifest;
    });
  }

  /** Removes a function: routes, isolates and files. */
  remove(name: string): Promise<void> {
    return this.#locked(name, async () => {
      const cur = this.#current.get(name);
      const releases = await this.deps.store.releases(name);
      if (!cur && releases.length === 0) {
        throw new NotFoundError(`no function "${name}"`);
      }
      this.deps.routes.removeHandler(name);
      this.#current.delete(name);
      for (const n of releases) this.deps.pool.retire(`${name}@${n}`);
      await this.deps.store.removeAll(name);
      await this.#collectBundles();
    });
  }

  /** The handler of one function (what its routes point at). */
  handlerFor(name: string): FunctionHandler {
    return (req, info) => {
      const r = this.#current.get(name);
      if (!r) {
        return Promise.resolve(
          new Response("function not found\n", { status: 404 }),
        );
      }
      return this.serve(r, req, info);
    };
  }

  /** Serves a request with a given release. */
  serve(
    release: FunctionRelease,
    req: Request,
    info: FunctionRequestInfo,
  ): Promise<Response> {
    // the query is parsed only when it may hold the parameter
    const instanceId = req.headers.get(INSTANCE_ID_HEADER) ??
      (req.url.includes(INSTANCE_ID_PARAM)
        ? new URL(req.url).searchParams.get(INSTANCE_ID_PARAM)
        : null);
    return this.deps.pool.dispatch(targetOf(release), req, {
      clientIp: info.remoteAddr.hostname,
      instanceId,
      ...(info.requestId !== undefined ? { requestId: info.requestId } : {}),
      ...(info.head !== undefined ? { head: info.head } : {}),
    });
  }

  /**
   * Serves requests that carry `x-deno-deploy-id` (the function's name, or
   * `name@release` for an exact release); null when the header is absent.
   * The daemon calls this before the route table.
   */
  handleDeployId(
    req: Request,
    info: FunctionRequestInfo,
  ): Promise<Response> | null {
    const id = req.headers.get(DEPLOY_ID_HEADER);
    if (id === null) return null;
    const [name = "", rel] = id.trim().toLowerCase().split("@");
    const cur = this.#current.get(name);
    if (!cur) {
      return Promise.resolve(
        new Response("no such deployment\n", { status: 404 }),
      );
    }
    if (rel === undefined || Number(rel) === cur.release) {
      return this.serve(cur, req, info);
    }
    return this.deps.store.read(name, Number(rel)).then(
      (r) => this.serve(r, req, info),
      () => new Response("no such deployment\n", { status: 404 }),
    );
  }

  /** Routes by Host itself (when no proxy router is in front). */
  handleByHost(
    req: Request,
    info: FunctionRequestInfo,
  ): Promise<Response> | null {
    const host = (req.headers.get("host") ?? new URL(req.url).host)
      .replace(/:\d+$/, "").toLowerCase();
    const path = new URL(req.url).pathname;
    for (const r of this.#current.values()) {
      if (
        r.urls.some((u) =>
          u.host === host &&
          (u.path === "/" || path === u.path || path.startsWith(u.path + "/"))
        )
      ) return this.serve(r, req, info);
    }
    return null;
  }

  /**
   * Routes first (the router refuses a URL or name a container holds), then
   * `current`: a refused switch leaves the file a restart reads untouched.
   */
  async #switch(manifest: FunctionRelease): Promise<void> {
    const old = this.#current.get(manifest.name);
    this.#publish(manifest);
    try {
      await this.deps.store.setCurrent(manifest.name, manifest.release);
    } catch (err) {
      if (old) this.#publish(old);
      else {
        this.deps.routes.removeHandler(manifest.name);
        this.#current.delete(manifest.name);
      }
      throw err;
    }
    if (old && old.release !== manifest.release) {
      this.deps.pool.retire(releaseKey(old));
    }
  }

  #publish(manifest: FunctionRelease): void {
    this.deps.routes.setHandler(
      manifest.name,
      manifest.urls,
      this.handlerFor(manifest.name),
    );
    this.#current.set(manifest.name, manifest);
  }

  async #prune(name: string): Promise<void> {
    const dropped = await this.deps.store.prune(name, this.deps.keepReleases);
    for (const n of dropped) this.deps.pool.retire(`${name}@${n}`);
    if (dropped.length) await this.#collectBundles();
  }

  /**
   * Deletes bundles no kept release refers to; recent ones are spared, as a
   * deploy of another function may be about to refer to them.
   */
  async #collectBundles(): Promise<void> {
    const used = await this.deps.store.artifactsInUse();
    const cutoff = Date.now() - 10 * 60_000;
    try {
      for await (const e of Deno.readDir(this.deps.bundlesDir)) {
        const path = `${this.deps.bundlesDir}/${e.name}`;
        if (!e.isFile || !e.name.endsWith(".js") || used.has(path)) continue;
        const st = await Deno.stat(path).catch(() => null);
        if (st && (st.mtime?.getTime() ?? 0) < cutoff) {
          await Deno.remove(path).catch(() => {});
        }
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }

  async #locked<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(name) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    this.#locks.set(name, next);
    try {
      return await next;
    } finally {
      if (this.#locks.get(name) === next) this.#locks.delete(name);
    }
  }
}
