/**
 * @module
 * The isolate pool's face: build a pool from `[isolates]` of config.toml.
 */
import type { ResolvedConfig } from "../config/mod.ts";
import type { Logger } from "../log.ts";
import type { LoadSource } from "./host_load.ts";
import { currentDenyList } from "./net_policy.ts";
import type { IsolateLog, PoolOptions, PoolSettings } from "./pool.ts";
import type { PoolEvents } from "./pool_types.ts";

export { HostLoad, type Load, type LoadSource } from "./host_load.ts";
export {
  currentDenyList,
  DENIED_NETS,
  denyNetList,
  hostAddresses,
} from "./net_policy.ts";
export { privateCommand } from "./private_spawn.ts";
export {
  type IsolateLog,
  IsolatePool,
  type PoolEvents,
  type PoolOptions,
  type PoolSettings,
  type PoolStats,
  type Target,
} from "./pool.ts";
export { findDeno, installRuntime } from "./runtime_install.ts";

/** The pool settings a reload applies, from the config. */
export function poolSettings(config: ResolvedConfig): PoolSettings {
  const c = config.isolates;
  return {
    freePoolRatio: c.freePoolRatio,
    idleTimeoutMs: c.idleTimeout,
    cpuPctTarget: c.clusterCpuPctTarget,
    memPctTarget: c.clusterMemoryPctTarget,
    wallLimitMs: c.wallLimit,
    queueTimeoutMs: c.queueTimeout,
  };
}

/** Pool options from the config; paths are the daemon's choice. */
export function poolOptions(
  config: ResolvedConfig,
  deps: {
    denoPath: string;
    runtimeDir: string;
    socketDir: string;
    denoDir: string;
    /** Where artifacts live (isolates may read them while loading). */
    artifactDirs: string[];
    hostLoad: LoadSource;
    log: Logger;
    onLog?: (line: IsolateLog) => void;
    events?: PoolEvents;
  },
): PoolOptions {
  const c = config.isolates;
  const options: PoolOptions = {
    ...poolSettings(config),
    minWorkers: c.minWorkers,
    maxWorkers: c.maxWorkers,
    isolatesPerProcess: c.isolatesPerProcess,
    concurrency: 32,
    hostLoad: deps.hostLoad,
    log: deps.log,
    process: {
      denoPath: deps.denoPath,
      runtimeDir: deps.runtimeDir,
      socketDir: deps.socketDir,
      denoDir: deps.denoDir,
      readPaths: deps.artifactDirs,
      // rebuilt at each process start: the host's addresses may change
      denyNet: () => currentDenyList(c.allowNet),
      memoryLimit: c.memoryLimit,
      cpuLimitMs: c.cpuLimit,
      loadTimeoutMs: Math.max(5000, c.cpuLimit),
    },
  };
  if (deps.onLog) options.onLog = deps.onLog;
  if (deps.events) options.events = deps.events;
  return options;
}
