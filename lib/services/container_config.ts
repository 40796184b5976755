/**
 * @module
 * Turns a ServiceSpec into the container to create: environment, volumes
 * (with MyPaas's safety rule), published ports, CPU and memory limits and
 * reservations, restart policy, network and the bounded log.
 */
import type { ResolvedConfig } from "../config/mod.ts";
import type {
  ContainerCreate,
  ContainerDetails,
  LogLimits,
  Mount,
} from "../docker/mod.ts";
import { InputError } from "../errors.ts";
import { SpecError } from "../spec/spec_error.ts";
import type { ServiceSpec } from "../spec/types.ts";
import { formatSize } from "../units.ts";

/**
 * The log a container of `spec` keeps: `[docker] log_max_size` x
 * `log_max_files`, or `mypaas.logs` when the spec asks for it. A spec asking
 * for more than `[docker] log_max_total` is refused with a SpecError naming
 * its line and the limit.
 */
export function logLimits(
  spec: ServiceSpec,
  config: ResolvedConfig,
): LogLimits {
  const d = config.docker;
  if (!spec.logs) return { maxSize: d.logMaxSize, maxFiles: d.logMaxFiles };
  const { maxSize, maxFiles, line } = spec.logs;
  if (maxSize * maxFiles > d.logMaxTotal) {
    throw new SpecError(
      { file: spec.file, line, key: "logs" },
      `asks for ${maxFiles} file(s) of ${formatSize(maxSize)} = ${
        formatSize(maxSize * maxFiles)
      }, more than this host allows per container: ${
        formatSize(d.logMaxTotal)
      } ([docker] log_max_total in config.toml); ask for less`,
    );
  }
  return { maxSize, maxFiles };
}

/**
 * A container's log as `status` and `server list` show it: `json-file:3x10m`
 * (3 files of 10m at most), `json-file:unbounded`.
 */
export function describeLog(log: ContainerDetails["log"]): string {
  const l = log.limits;
  return `${log.driver}:${
    l ? `${l.maxFiles}x${formatSize(l.maxSize)}` : "unbounded"
  }`;
}

/**
 * Checks the spec's volumes: host paths must lie under `[docker]
 * volume_root`, and never inside the daemon's data dir, a `.ssh` directory
 * or the Docker socket. Throws an InputError naming the volume.
 */
export async function checkVolumes(
  spec: ServiceSpec,
  config: ResolvedConfig,
): Promise<void> {
  for (const v of spec.volumes) {
    if (v.kind !== "bind") continue;
    const where = `${spec.file}: mypaas.volume "${v.source}:${v.target}"`;
    if (!v.source.startsWith("/")) {
      throw new InputError(`${where}: the host path must be absolute`);
    }
    const paths = [normalizePath(v.source)];
    try {
      paths.push(await Deno.realPath(v.source));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    for (const p of paths) {
      const root = normalizePath(config.docker.volumeRoot);
      if (!isUnder(p, root)) {
        throw new InputError(
          `${where}: host paths must lie under ${root} ([docker] volume_root in config.toml)`,
        );
      }
      const forbidden: [string, string][] = [
        [normalizePath(config.server.dataDir), "the mypaas data directory"],
        [normalizePath(config.docker.socket), "the Docker socket"],
      ];
      for (const [f, what] of forbidden) {
        if (isUnder(p, f) || isUnder(f, p)) {
          throw new InputError(`${where}: must not expose ${what} (${f})`);
        }
      }
      if (p.split("/").includes(".ssh")) {
        throw new InputError(`${where}: must not expose a .ssh directory`);
      }
    }
  }
}

/**
 * A published host port can be bound by one container at a time, so a spec
 * with `publish` must replace its one container (recreate, or `safe 1`).
 */
export function checkPublish(spec: ServiceSpec): void {
  if (!spec.publish.length) return;
  const { strategy, replicas } = spec.scale;
  if (strategy === "rolling" || (strategy === "safe" && replicas > 1)) {
    throw new InputError(
      `${spec.file}: mypaas.publish binds host ports, which only one container can hold: use scale 0 (or safe 1) instead of ${
        strategy === "rolling" ? "a rolling" : "a safe"
      } scale of ${replicas}`,
    );
  }
}

/** Resolves `.` and `..` segments of an absolute path. */
export function normalizePath(path: string): string {
  const out: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return "/" + out.join("/");
}

function isUnder(path: string, root: string): boolean {
  return root === "/" || path === root || path.startsWith(root + "/");
}

/** The container of replica `name` of a release. */
export function containerConfig(
  spec: ServiceSpec,
  opts: {
    name: string;
    image: string;
    network: string;
    labels: Record<string, string>;
    /** From `logLimits`; every container gets a bounded log. */
    log: LogLimits;
  },
): ContainerCreate {
  const mounts: Mount[] = spec.volumes.map((v) => ({
    kind: v.kind,
    source: v.kind === "bind" ? normalizePath(v.source) : v.source,
    target: v.target,
  }));
  const req = spec.request ?? {};
  const cpus = spec.maxcpu ?? (req.cpu ? req.cpu * 2 : undefined);
  const memory = spec.maxmem ?? (req.mem ? req.mem * 2 : undefined);
  return {
    name: opts.name,
    image: opts.image,
    env: {
      ...spec.env,
      MYPAAS_SERVICE: spec.service,
      MYPAAS_SCALE: String(spec.scale.replicas),
      MYPAAS_PORT: String(spec.port),
      MYPAAS_CONTAINER: opts.name,
    },
    labels: opts.labels,
    network: opts.network,
    mounts,
    publish: spec.publish.map((p) => ({ ...p })),
    ...(cpus ? { cpus } : {}),
    ...(memory ? { memory } : {}),
    ...(req.cpu ? { cpuReservation: req.cpu } : {}),
    ...(req.mem ? { memoryReservation: req.mem } : {}),
    restart: "unless-stopped",
    // an init as PID 1 passes SIGTERM on, so stops are quick and graceful
    init: true,
    log: { ...opts.log },
  };
}
