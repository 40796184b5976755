/**
 * @module
 * `DockerRuntime`: the `ContainerRuntime` over dockerode and the engine's
 * Unix socket. API version pinned to 1.41 (docker.io 20.10 and later).
 * Nothing dockerode-typed leaves this file.
 */
import Docker from "dockerode";
import { packContext } from "./build_context.ts";
import { demux } from "./_lines.ts";
import { lines } from "../lines.ts";
import {
  containerDetails,
  ignoreStatus,
  labelFilters,
  logConfig,
  parseJson,
  statusOf,
  withTimeout,
} from "./_dockerode_util.ts";
import {
  BuildError,
  type BuildLimits,
  type BuildOptions,
  type ContainerCreate,
  type ContainerDetails,
  type ContainerRuntime,
  type ContainerState,
  type ContainerStats,
  type ContainerSummary,
  type ImageSummary,
  type LogLine,
  type RuntimeEvent,
  RuntimeUnavailableError,
} from "./runtime.ts";

/** The engine API version mypaas speaks. */
export const DOCKER_API_VERSION = "v1.41";

type Chunks = AsyncIterable<Uint8Array>;

/** A ContainerRuntime talking to a Docker engine over its socket. */
export class DockerRuntime implements ContainerRuntime {
  readonly #docker: Docker;

  constructor(readonly socketPath = "/var/run/docker.sock") {
    this.#docker = new Docker({ socketPath, version: DOCKER_API_VERSION });
    // every call goes through modem.dial: a socket nobody answers on becomes
    // a RuntimeUnavailableError that names the socket and the fix
    const modem = this.#docker.modem as unknown as {
      dial(o: unknown, cb: (err: unknown, data: unknown) => void): unknown;
    };
    const dial = modem.dial.bind(modem);
    modem.dial = (o, cb) =>
      dial(o, (err, data) => cb(err ? this.#mapError(err) : err, data));
  }

  #mapError(err: unknown): unknown {
    const code = (err as { code?: string })?.code;
    if (!code || !["ENOENT", "ECONNREFUSED", "EACCES"].includes(code)) {
      return err;
    }
    return new RuntimeUnavailableError(
      `the Docker engine at ${this.socketPath} does not answer (${code}): start it (systemctl start docker) or fix [docker] socket in config.toml`,
      { cause: err },
    );
  }

  async cgroupDriver(): Promise<string> {
    const info = await withTimeout(this.#docker.info(), 5000) as {
      CgroupDriver?: string;
    };
    return info.CgroupDriver ?? "";
  }

  async ping(): Promise<void> {
    try {
      await withTimeout(this.#docker.ping(), 5000);
    } catch (err) {
      if (err instanceof RuntimeUnavailableError) throw err;
      throw new RuntimeUnavailableError(
        `the Docker engine at ${this.socketPath} does not answer (${
          (err as Error).message
        }): start it (systemctl start docker) or fix [docker] socket in config.toml`,
        { cause: err },
      );
    }
  }

  async build(
    opts: BuildOptions,
    onLine: (line: string) => void,
  ): Promise<string> {
    const ctx = await packContext(opts.dir, {
      extraIgnore: opts.ignore,
      dockerfile: opts.dockerfile,
    });
    const stream = await this.#docker.buildImage(
      ctx as unknown as NodeJS.ReadableStream,
      {
        t: opts.tag,
        dockerfile: opts.dockerfile ?? "Dockerfile",
        labels: opts.labels ?? {},
        rm: true,
        forcerm: true,
        ...buildLimitParams(opts.limits),
        ...(opts.signal ? { abortSignal: opts.signal } : {}),
      } as Docker.ImageBuildOptions,
    );
    const last: string[] = [];
    let imageId = "";
    let error = "";
    const keep = (line: string) => {
      last.push(line);
      if (last.length > 20) last.shift();
      onLine(line);
    };
    for await (
      const line of lines(stream as unknown as Chunks, { crlf: true })
    ) {
      if (!line.trim()) continue;
      const msg = parseJson(line);
      if (msg.error) {
        error = String(msg.error).trim();
        keep(error);
      } else if (typeof msg.stream === "string") {
        for (const l of msg.stream.split("\n")) if (l.trim()) keep(l);
      } else if (msg.aux && typeof msg.aux === "object") {
        const id = (msg.aux as { ID?: string }).ID;
        if (id) imageId = id;
      } else if (typeof msg.status === "string") {
        keep(msg.status);
      }
    }
    if (error) throw new BuildError(`build failed: ${error}`, last);
    if (!imageId) {
      const img = await this.inspectImage(opts.tag);
      if (!img) throw new BuildError("build produced no image", last);
      imageId = img.id;
    }
    return imageId;
  }

  async pull(ref: string, onLine: (line: string) => void): Promise<void> {
    const stream = await this.#docker.pull(ref);
    for await (
      const line of lines(stream as unknown as Chunks, { crlf: true })
    ) {
      const msg = parseJson(line);
      if (msg.error) throw new Error(`pull of ${ref} failed: ${msg.error}`);
      if (typeof msg.status === "string") {
        onLine(msg.id ? `${msg.id}: ${msg.status}` : msg.status);
      }
    }
  }

  async create(opts: ContainerCreate): Promise<string> {
    const binds = (opts.mounts ?? []).map((m) =>
      `${m.source}:${m.target}${m.readOnly ? ":ro" : ""}`
    );
    const exposed: Record<string, object> = {};
    const portBindings: Record<string, { HostPort: string }[]> = {};
    for (const p of opts.publish ?? []) {
      const key = `${p.containerPort}/${p.protocol}`;
      exposed[key] = {};
      (portBindings[key] ??= []).push({ HostPort: String(p.hostPort) });
    }
    const c = await this.#docker.createContainer({
      name: opts.name,
      Image: opts.image,
      Cmd: opts.cmd,
      Env: Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`),
      Labels: opts.labels ?? {},
      ExposedPorts: exposed,
      HostConfig: {
        Binds: binds,
        PortBindings: portBindings,
        NetworkMode: opts.network,
        NanoCpus: opts.cpus ? Math.round(opts.cpus * 1e9) : 0,
        Memory: opts.memory ?? 0,
        CpuShares: opts.cpuReservation
          ? Math.max(2, Math.round(opts.cpuReservation * 1024))
          : 0,
        MemoryReservation: opts.memoryReservation ?? 0,
        RestartPolicy: { Name: opts.restart ?? "no" },
        ...(opts.init ? { Init: true } : {}),
        ...(opts.log ? { LogConfig: logConfig(opts.log) } : {}),
      },
    });
    return c.id;
  }

  async start(id: string): Promise<void> {
    await ignoreStatus(this.#docker.getContainer(id).start(), 304);
  }

  async stop(id: string, opts: { timeoutS?: number } = {}): Promise<void> {
    await ignoreStatus(
      this.#docker.getContainer(id).stop({ t: opts.timeoutS ?? 10 }),
      304,
      404,
    );
  }

  async restart(id: string, opts: { timeoutS?: number } = {}): Promise<void> {
    await this.#docker.getContainer(id).restart({ t: opts.timeoutS ?? 10 });
  }

  async kill(id: string, signal = "SIGKILL"): Promise<void> {
    await this.#docker.getContainer(id).kill({ signal });
  }

  async rename(id: string, name: string): Promise<void> {
    await this.#docker.getContainer(id).rename({ name });
  }

  async remove(id: string, opts: { force?: boolean } = {}): Promise<void> {
    await ignoreStatus(
      this.#docker.getContainer(id).remove({ force: opts.force ?? false }),
      404,
    );
  }

  async inspect(idOrName: string): Promise<ContainerDetails | null> {
    let i;
    try {
      i = await this.#docker.getContainer(idOrName).inspect();
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
    return containerDetails(i);
  }

  async list(
    labels: Record<string, string | true>,
  ): Promise<ContainerSummary[]> {
    const got = await this.#docker.listContainers({
      all: true,
      filters: { label: labelFilters(labels) },
    });
    return got.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? "").replace(/^\//, ""),
      image: c.Image,
      state: c.State as ContainerState,
      labels: c.Labels ?? {},
      created: c.Created * 1000,
    }));
  }

  async *events(
    labels: Record<string, string | true>,
    signal: AbortSignal,
    opts: { sinceMs?: number } = {},
  ): AsyncIterable<RuntimeEvent> {
    const stream = await this.#docker.getEvents({
      filters: { type: ["container"], label: labelFilters(labels) },
      ...(opts.sinceMs !== undefined
        ? { since: Math.floor(opts.sinceMs / 1000) }
        : {}),
    }) as unknown as Chunks & { destroy(): void };
    const onAbort = () => stream.destroy();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const line of lines(stream, { crlf: true })) {
        const e = parseJson(line);
        const actor = (e.Actor ?? {}) as {
          ID?: string;
          Attributes?: Record<string, string>;
        };
        const attrs = { ...actor.Attributes };
        const name = attrs.name ?? "";
        delete attrs.name;
        delete attrs.image;
        yield {
          action: String(e.Action ?? e.status ?? ""),
          id: String(actor.ID ?? e.id ?? ""),
          name,
          labels: attrs,
          time: Number(e.time ?? 0) * 1000,
        };
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    } finally {
      signal.removeEventListener("abort", onAbort);
      stream.destroy();
    }
  }

  async stats(id: string): Promise<ContainerStats> {
    const s = await this.#docker.getContainer(id).stats({ stream: false });
    const cpuDelta = s.cpu_stats.cpu_usage.total_usage -
      (s.precpu_stats.cpu_usage?.total_usage ?? 0);
    const sysDelta = s.cpu_stats.system_cpu_usage -
      (s.precpu_stats.system_cpu_usage ?? 0);
    const cpus = s.cpu_stats.online_cpus ?? 1;
    return {
      cpuPct: sysDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0,
      cpuSeconds: s.cpu_stats.cpu_usage.total_usage / 1e9,
      memory: s.memory_stats.usage ?? 0,
      memoryLimit: s.memory_stats.limit ?? 0,
    };
  }

  async *logs(
    id: string,
    opts: { follow?: boolean; tail?: number; signal?: AbortSignal },
  ): AsyncIterable<LogLine> {
    const c = this.#docker.getContainer(id);
    const base = {
      stdout: true,
      stderr: true,
      ...(opts.tail !== undefined ? { tail: opts.tail } : {}),
    } as const;
    if (!opts.follow) {
      const buf = await c.logs({ ...base, follow: false });
      yield* demux((async function* () {
        yield new Uint8Array(buf as unknown as ArrayBuffer);
      })());
      return;
    }
    const stream = await c.logs({ ...base, follow: true }) as unknown as
      & Chunks
      & { destroy(): void };
    const onAbort = () => stream.destroy();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      yield* demux(stream);
    } catch (err) {
      if (!opts.signal?.aborted) throw err;
    } finally {
      opts.signal?.removeEventListener("abort", onAbort);
      stream.destroy();
    }
  }

  async inspectImage(ref: string): Promise<ImageSummary | null> {
    try {
      const i = await this.#docker.getImage(ref).inspect();
      return {
        id: i.Id,
        tags: i.RepoTags ?? [],
        labels: i.Config?.Labels ?? {},
        created: Date.parse(i.Created),
      };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  async listImages(repo: string): Promise<ImageSummary[]> {
    const got = await this.#docker.listImages({
      filters: { reference: [repo] },
    });
    return got.map((i) => ({
      id: i.Id,
      tags: (i.RepoTags ?? []).filter((t) => t !== "<none>:<none>"),
      labels: i.Labels ?? {},
      created: i.Created * 1000,
    }));
  }

  async tagImage(ref: string, repo: string, tag: string): Promise<void> {
    await this.#docker.getImage(ref).tag({ repo, tag });
  }

  async removeImage(ref: string, opts: { force?: boolean } = {}) {
    await ignoreStatus(
      this.#docker.getImage(ref).remove({ force: opts.force ?? false }),
      404,
    );
  }

  async ensureNetwork(name: string, labels: Record<string, string> = {}) {
    try {
      await this.#docker.getNetwork(name).inspect();
      return;
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
    await ignoreStatus(
      this.#docker.createNetwork({
        Name: name,
        Driver: "bridge",
        CheckDuplicate: true,
        Labels: labels,
      }),
      409,
    );
  }

  async removeNetwork(name: string): Promise<void> {
    await ignoreStatus(this.#docker.getNetwork(name).remove(), 404);
  }
}

/** `/build` query parameters for `limits` (none when absent). */
export function buildLimitParams(
  limits: BuildLimits | undefined,
): Record<string, number | string> {
  if (!limits) return {};
  const out: Record<string, number | string> = {
    cpushares: limits.cpuShares,
    cpuperiod: limits.cpuPeriod,
    cpuquota: limits.cpuQuota,
  };
  if (limits.memory > 0) {
    out.memory = limits.memory;
    out.memswap = limits.memswap;
  }
  if (limits.cgroupParent) out.cgroupparent = limits.cgroupParent;
  return out;
}
