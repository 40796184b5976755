/**
 * @module
 * Builds a release image from a directory: pulls the base image only when a
 * `FROM` uses `:latest` (a failed pull is tolerated when the image exists
 * locally), streams the build log line by line, and tags the result
 * `mypaas/<service>:<release>` with the spec in its labels (for rollback;
 * env names only, values stay in `release_env.ts`'s files).
 *
 * Builds yield to serving: one at a time per host (`BuildQueue`), a push
 * that waits says for whom, `[docker] build_timeout` bounds waiting and
 * building together, and the RUN containers get a low CPU weight, a CFS
 * quota (`build_cpus`) and a memory limit (`build_memory`).
 */
import { parse } from "smol-toml";
import { type Clock, realClock } from "../clock.ts";
import {
  BuildError,
  type BuildLimits,
  type ContainerRuntime,
} from "../docker/mod.ts";
import { formatDuration, formatSize } from "../units.ts";
import { InputError } from "../errors.ts";
import type { ServiceSpec } from "../spec/types.ts";
import { hostKey } from "./host_key.ts";
import { imageRef, LABEL, specLabel } from "./labels.ts";

/** A failed build; `lastLines` are the end of its log. */
export class ReleaseBuildError extends Error {
  override name = "ReleaseBuildError";
  constructor(message: string, readonly lastLines: string[]) {
    super(message);
  }
}

/**
 * The lowest CPU weight cgroup v1 takes (`cpu.shares` 2; a container's
 * default is 1024): a build gets CPU only when serving leaves it idle.
 * Docker maps it to `cpu.weight` 1 on cgroup v2.
 */
export const BUILD_CPU_SHARES = 2;
/** The CFS period the quota is counted in (Docker's default, 100 ms). */
export const BUILD_CPU_PERIOD_US = 100_000;

/** Cores a build may use: `build_cpus`, or all but one (at least one). */
export function buildCores(buildCpus: number, cores: number): number {
  return buildCpus > 0 ? buildCpus : Math.max(1, cores - 1);
}

/** The `/build` limits for `[docker] build_cpus` and `build_memory`. */
export function buildLimits(
  docker: { buildCpus: number; buildMemory: number },
  cores: number = navigator.hardwareConcurrency,
): BuildLimits {
  const cpus = buildCores(docker.buildCpus, cores);
  return {
    cpuShares: BUILD_CPU_SHARES,
    cpuPeriod: BUILD_CPU_PERIOD_US,
    cpuQuota: Math.round(cpus * BUILD_CPU_PERIOD_US),
    memory: docker.buildMemory,
    memswap: docker.buildMemory, // no swap beyond the limit
  };
}

/**
 * One build at a time: `run` waits for the builds ahead (saying whose it
 * waits for) and aborts its signal when `timeoutMs` has passed since it was
 * called, waiting included.
 */
export class BuildQueue {
  #tail: Promise<void> = Promise.resolve();
  #running: string | null = null;
  #waiting = 0;
  constructor(readonly clock: Clock = realClock) {}

  /** The build running now, if any. */
  get running(): string | null {
    return this.#running;
  }
  /** Builds waiting for their turn. */
  get waiting(): number {
    return this.#waiting;
  }

  async run<T>(
    name: string,
    timeoutMs: number,
    progress: (line: string) => void,
    fn: (signal: AbortSignal) => Promise<T>,
  ): Promise<{ waitedMs: number; result: T }> {
    const ac = new AbortController();
    const started = this.clock.now();
    const timer = this.clock.setTimeout(() => ac.abort(), timeoutMs);
    const turn = this.#tail;
    let done!: () => void;
    const mine = new Promise<void>((resolve) => done = resolve);
    this.#tail = turn.then(() => mine);
    const ahead = this.#running;
    try {
      if (ahead !== null || this.#waiting > 0) {
        progress(
          `waiting for the build of ${ahead ?? "another service"}${
            this.#waiting > 0 ? ` (${this.#waiting} more queued ahead)` : ""
          }`,
        );
      }
      this.#waiting++;
      let aborted: () => void = () => {};
      const cut = new Promise<void>((resolve) => {
        aborted = resolve;
        ac.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      try {
        await Promise.race([turn, cut]);
      } finally {
        this.#waiting--;
        aborted();
      }
      const waitedMs = this.clock.now() - started;
      if (ac.signal.aborted) throw new BuildTimeout(waitedMs, true);
      this.#running = name;
      try {
        return { waitedMs, result: await fn(ac.signal) };
      } catch (err) {
        if (ac.signal.aborted) throw new BuildTimeout(waitedMs, false);
        throw err;
      } finally {
        this.#running = null;
      }
    } finally {
      this.clock.clearTimeout(timer);
      done();
    }
  }
}

/** `BuildQueue.run` passed its timeout, waiting (`queued`) or building. */
export class BuildTimeout extends Error {
  override name = "BuildTimeout";
  constructor(readonly waitedMs: number, readonly queued: boolean) {
    super(queued ? "timed out waiting for the build queue" : "build timed out");
  }
}

/** A RUN step killed by SIGKILL (the OOM killer's signal) exits 137. */
function killedForMemory(err: BuildError): boolean {
  return /returned a non-zero code: 137\b/.test(err.message) ||
    err.lastLines.some((l) => /non-zero code: 137\b/.test(l));
}

/** The base images that need a pull: `FROM x:latest` lines. */
export function latestBases(dockerfile: string): string[] {
  const out: string[] = [];
  for (const line of dockerfile.split("\n")) {
    const m = /^\s*FROM\s+(?:--\S+\s+)*(\S+)/i.exec(line);
    if (m && m[1]!.endsWith(":latest")) out.push(m[1]!);
  }
  return out;
}

/** The `ignore = [...]` list of the directory's mypaas.toml, if any. */
export async function readIgnoreList(dir: string): Promise<string[]> {
  let text;
  try {
    text = await Deno.readTextFile(`${dir}/mypaas.toml`);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  let raw;
  try {
    raw = parse(text) as { ignore?: unknown };
  } catch (err) {
    throw new InputError(
      `${dir}/mypaas.toml: invalid TOML: ${(err as Error).message}`,
    );
  }
  const ignore = raw.ignore ?? [];
  if (!Array.isArray(ignore) || !ignore.every((i) => typeof i === "string")) {
    throw new InputError(
      `${dir}/mypaas.toml: ignore must be an array of strings`,
    );
  }
  return ignore;
}

/** Builds release `release` of `spec` from `dir`; returns the image id. */
export async function buildRelease(
  runtime: ContainerRuntime,
  opts: {
    dir: string;
    spec: ServiceSpec;
    release: number;
    progress: (line: string) => void;
    /** The data dir, whose host key hashes the spec in the label. */
    dataDir: string;
    /** The host's build queue (default: a private one, no waiting). */
    queue?: BuildQueue;
    /** `[docker] build_cpus`, `build_memory`, `build_timeout`. */
    docker?: { buildCpus: number; buildMemory: number; buildTimeout: number };
  },
): Promise<string> {
  const { dir, spec, release, progress } = opts;
  const dockerfile = await Deno.readTextFile(`${dir}/Dockerfile`);
  for (const base of latestBases(dockerfile)) {
    progress(`pulling ${base}`);
    try {
      await runtime.pull(base, () => {});
    } catch (err) {
      if (await runtime.inspectImage(base)) {
        progress(
          `pull of ${base} failed (${
            (err as Error).message
          }); using the local image`,
        );
      } else {
        throw new ReleaseBuildError(
          `cannot pull ${base} and there is no local copy: ${
            (err as Error).message
          }`,
          [],
        );
      }
    }
  }
  const tag = imageRef(spec.service, release);
  const docker = opts.docker ??
    { buildCpus: 0, buildMemory: 0, buildTimeout: 30 * 60_000 };
  const limits = buildLimits(docker);
  const ignore = await readIgnoreList(dir);
  // one label only: the classic builder adds a build step per label;
  // service and release are in the tag. The step is streamed to the
  // client, so the label holds env names only (and a keyed hash).
  const labels = {
    [LABEL.spec]: await specLabel(spec, await hostKey(opts.dataDir)),
  };
  const queue = opts.queue ?? new BuildQueue();
  try {
    const { result } = await queue.run(
      spec.service,
      docker.buildTimeout,
      progress,
      (signal) => {
        progress(`building ${tag}`);
        return runtime.build(
          { dir, tag, ignore, labels, limits, signal },
          progress,
        );
      },
    );
    return result;
  } catch (err) {
    const limit = `[docker] build_timeout = ${
      formatDuration(docker.buildTimeout)
    }`;
    if (err instanceof BuildTimeout) {
      throw new ReleaseBuildError(
        err.queued
          ? `the build of ${spec.service} did not start within ${limit}: it waited ${
            formatDuration(err.waitedMs)
          } for the build queue; push again later or raise build_timeout in config.toml`
          : `the build of ${spec.service} did not finish within ${limit} (waiting ${
            formatDuration(err.waitedMs)
          } for the build queue included); it was stopped`,
        [],
      );
    }
    if (err instanceof BuildError) {
      const tail = err.lastLines.slice(-10).join("\n");
      if (docker.buildMemory > 0 && killedForMemory(err)) {
        throw new ReleaseBuildError(
          `build killed for memory: a RUN step went past the build's memory limit of ${
            formatSize(docker.buildMemory)
          } ([docker] build_memory in config.toml) and was killed (exit 137)\n${tail}`,
          err.lastLines,
        );
      }
      throw new ReleaseBuildError(`${err.message}\n${tail}`, err.lastLines);
    }
    throw err;
  }
}
