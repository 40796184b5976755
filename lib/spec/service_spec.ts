/**
 * @module
 * `parseServiceSpec`: a Dockerfile's `# mypaas.*` comments -> `ServiceSpec`.
 * Pure: text in, spec out; `[env]` and HOME are passed in.
 */
import { collectKeys } from "./keys.ts";
import type { ServiceSpec } from "./types.ts";
import { each, one, resolveEnv, uniqueUrls } from "./_common.ts";
import { SpecError } from "./spec_error.ts";
import {
  parsePort,
  parsePublish,
  parseUrl,
  parseVolume,
} from "./values_net.ts";
import {
  parseAutoscale,
  parseCheck,
  parseHash,
  parseIdle,
  parseLogs,
  parseMaxCpu,
  parseMaxMem,
  parseRequest,
  parseScale,
  parseService,
  parseSticky,
} from "./values_run.ts";

/** What a Dockerfile's comments are resolved against. */
export interface ServiceSpecOptions {
  /** File name for messages and `spec.file` (`Dockerfile`, `app/Dockerfile`). */
  file: string;
  /** `[env]` of config.toml, for bare `mypaas.env=NAME`. */
  env: Readonly<Record<string, string>>;
  /** Home directory, for `~` in volumes. */
  home: string;
  /** `--env` flags, applied over the comments. */
  flagEnv?: string[];
}

/** Parses a Dockerfile's comments. Throws `SpecError` naming file:line and key. */
export function parseServiceSpec(
  text: string,
  opts: ServiceSpecOptions,
): ServiceSpec {
  const file = opts.file;
  const kv = collectKeys(text, { file, kind: "service", style: "#" });
  const service = one(kv.service, file, "service", parseService);
  if (service === undefined) {
    throw new SpecError(
      { file, line: 0, key: "service" },
      `is required: add a line "# mypaas.service=NAME"`,
    );
  }
  const spec: ServiceSpec = {
    kind: "service",
    service,
    file,
    urls: uniqueUrls(each(kv.url, file, "url", parseUrl)),
    volumes: [],
    env: resolveEnv(kv.env, file, opts.flagEnv, opts.env),
    port: one(kv.port, file, "port", parsePort) ?? 80,
    publish: [],
    scale: one(kv.scale, file, "scale", parseScale) ??
      { strategy: "recreate", replicas: 1 },
  };
  const targets = new Map<string, number>();
  for (
    const { value, at } of each(
      kv.volume,
      file,
      "volume",
      (v, at) => parseVolume(v, at, opts.home),
    )
  ) {
    const first = targets.get(value.target);
    if (first !== undefined) {
      throw new SpecError(
        at,
        `mounts ${value.target} again (first on line ${first})`,
      );
    }
    targets.set(value.target, at.line);
    spec.volumes.push(value);
  }
  const ports = new Map<string, number>();
  for (const { value, at } of each(kv.publish, file, "publish", parsePublish)) {
    const id = `${value.hostPort}/${value.protocol}`;
    const first = ports.get(id);
    if (first !== undefined) {
      throw new SpecError(
        at,
        `publishes host port ${id} again (first on line ${first})`,
      );
    }
    ports.set(id, at.line);
    spec.publish.push(value);
  }
  const optional = {
    healthcheck: one(kv.healthcheck, file, "healthcheck", parseCheck),
    liveness: one(kv.liveness, file, "liveness", parseCheck),
    readiness: one(kv.readiness, file, "readiness", parseCheck),
    maxcpu: one(kv.maxcpu, file, "maxcpu", parseMaxCpu),
    maxmem: one(kv.maxmem, file, "maxmem", parseMaxMem),
    request: one(kv.request, file, "request", parseRequest),
    autoscale: one(kv.autoscale, file, "autoscale", parseAutoscale),
    sticky: one(kv.sticky, file, "sticky", parseSticky),
    hash: one(kv.hash, file, "hash", parseHash),
    idleMs: one(kv.idle, file, "idle", parseIdle),
    logs: one(kv.logs, file, "logs", parseLogs),
  };
  for (const [k, v] of Object.entries(optional)) {
    if (v !== undefined) (spec as unknown as Record<string, unknown>)[k] = v;
  }
  checkTogether(spec, kv, file);
  return spec;
}

/**
 * Checks between keys: a request within its limits. (sticky and hash may be
 * combined: the hash picks a client's first replica, the cookie keeps it.)
 */
function checkTogether(
  spec: ServiceSpec,
  kv: ReturnType<typeof collectKeys>,
  file: string,
): void {
  const line = () => kv.request?.[0]?.line ?? 0;
  const req = spec.request;
  if (
    req?.cpu !== undefined && spec.maxcpu !== undefined && req.cpu > spec.maxcpu
  ) {
    throw new SpecError(
      { file, line: line(), key: "request" },
      `asks for cpu=${req.cpu}, more than mypaas.maxcpu=${spec.maxcpu}`,
    );
  }
  if (
    req?.mem !== undefined && spec.maxmem !== undefined && req.mem > spec.maxmem
  ) {
    throw new SpecError(
      { file, line: line(), key: "request" },
      `asks for mem=${req.mem} bytes, more than mypaas.maxmem=${spec.maxmem}`,
    );
  }
}
