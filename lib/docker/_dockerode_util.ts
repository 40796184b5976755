/**
 * @module
 * Helpers of DockerRuntime that touch dockerode's shapes: the container
 * inspect mapping to our `ContainerDetails`, label filters, error statuses.
 * Folder-private: nothing here leaves lib/docker.
 */
import type Docker from "dockerode";
import { parseSize } from "../units.ts";
import type {
  ContainerDetails,
  ContainerState,
  LogLimits,
  Mount,
  PortBinding,
  RestartPolicy,
} from "./runtime.ts";

/** Maps dockerode's inspect result to ours. */
export function containerDetails(
  i: Docker.ContainerInspectInfo,
): ContainerDetails {
  const hc = i.HostConfig;
  const ips: Record<string, string> = {};
  for (const [net, s] of Object.entries(i.NetworkSettings.Networks ?? {})) {
    if (s.IPAddress) ips[net] = s.IPAddress;
  }
  const env: Record<string, string> = {};
  for (const kv of i.Config.Env ?? []) {
    const eq = kv.indexOf("=");
    if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const mounts: Mount[] = (i.Mounts ?? []).map((m) => ({
    kind: m.Type === "volume" ? "volume" : "bind",
    source: m.Type === "volume" ? (m.Name ?? m.Source) : m.Source,
    target: m.Destination,
    readOnly: !m.RW,
  }));
  const publish: PortBinding[] = [];
  for (
    const [key, list] of Object.entries(
      (hc.PortBindings ?? {}) as Record<string, { HostPort: string }[]>,
    )
  ) {
    const [port, proto] = key.split("/");
    for (const b of list ?? []) {
      publish.push({
        hostPort: Number(b.HostPort),
        containerPort: Number(port),
        protocol: proto === "udp" ? "udp" : "tcp",
      });
    }
  }
  const started = Date.parse(i.State.StartedAt);
  return {
    id: i.Id,
    name: i.Name.replace(/^\//, ""),
    image: i.Config.Image,
    imageId: i.Image,
    state: i.State.Status as ContainerState,
    labels: i.Config.Labels ?? {},
    created: Date.parse(i.Created),
    running: i.State.Running,
    exitCode: i.State.ExitCode,
    restartCount: i.RestartCount,
    env,
    ips,
    cpus: (hc.NanoCpus ?? 0) / 1e9,
    memory: hc.Memory ?? 0,
    cpuReservation: (hc.CpuShares ?? 0) / 1024,
    memoryReservation: hc.MemoryReservation ?? 0,
    mounts,
    publish,
    restart: (hc.RestartPolicy?.Name || "no") as RestartPolicy,
    startedAt: started > 0 ? started : 0,
    log: logDetails(hc.LogConfig),
  };
}

/**
 * `HostConfig.LogConfig` for a bounded json-file log. The Engine API takes
 * the driver's options as strings; `max-size` in plain bytes is read by
 * Docker's `units.RAMInBytes`, the same binary multiples as `parseSize`.
 */
export function logConfig(
  limits: LogLimits,
): { Type: string; Config: Record<string, string> } {
  return {
    Type: "json-file",
    Config: {
      "max-size": String(limits.maxSize),
      "max-file": String(limits.maxFiles),
    },
  };
}

function logDetails(
  lc: { Type?: string; Config?: Record<string, string> } | undefined,
): ContainerDetails["log"] {
  const driver = lc?.Type || "json-file";
  const size = parseSize(lc?.Config?.["max-size"] ?? "");
  if (size === undefined) return { driver, limits: null };
  const files = Number(lc?.Config?.["max-file"] ?? "1");
  return {
    driver,
    limits: { maxSize: size, maxFiles: Number.isInteger(files) ? files : 1 },
  };
}

export function labelFilters(labels: Record<string, string | true>): string[] {
  return Object.entries(labels).map(([k, v]) => v === true ? k : `${k}=${v}`);
}

export function parseJson(line: string): Record<string, unknown> & {
  error?: unknown;
  stream?: unknown;
  status?: unknown;
  aux?: unknown;
  id?: unknown;
} {
  try {
    return JSON.parse(line);
  } catch {
    return { stream: line };
  }
}

export function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number })?.statusCode;
}

export async function ignoreStatus(p: Promise<unknown>, ...codes: number[]) {
  try {
    await p;
  } catch (err) {
    if (!codes.includes(statusOf(err) ?? -1)) throw err;
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms}ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
