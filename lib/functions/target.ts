/**
 * @module
 * What a function release is to the isolate pool and the router: the pool
 * and route ports, the pool target of a release (made once per release),
 * the pool key, and the headers that pick a deployment or an isolate.
 */
import type { SpecUrl } from "../spec/types.ts";
import type { FunctionRelease } from "./releases.ts";

/** What the request side needs of the isolate pool. */
export interface FunctionPool {
  dispatch(
    target: FunctionTarget,
    req: Request,
    client: FunctionClient & { instanceId?: string | null },
  ): Promise<Response>;
  warm(target: FunctionTarget): Promise<void>;
  retire(key: string): void;
}

/** A release as the pool loads it. */
export interface FunctionTarget {
  key: string;
  url: string;
  env: Record<string, string>;
  /** A self-contained bundle, imported from memory (see lib/isolates). */
  inline?: boolean;
  /** The only directory a `--skip-optimize` release's isolate may read. */
  readRoot?: string;
  idleMs?: number;
}

/** Who sent a request, for the function's X-Forwarded-* headers. */
export interface FunctionClient {
  clientIp: string;
  /** The proxy's X-Request-Id of the request. */
  requestId?: string;
  /** The request's headers as the proxy read them (saves reading twice). */
  head?: { pairs: [string, string][]; size: number };
}

/** What a handler learns besides the request (the proxy's RequestInfo fits). */
export interface FunctionRequestInfo extends Omit<FunctionClient, "clientIp"> {
  remoteAddr: { hostname: string };
}

/** Serves one request of a function. */
export type FunctionHandler = (
  req: Request,
  info: FunctionRequestInfo,
) => Promise<Response>;

/** The router's handler-backend side (lib/proxy Router fits). */
export interface FunctionRoutes {
  setHandler(name: string, urls: SpecUrl[], handler: FunctionHandler): void;
  removeHandler(name: string): void;
}

/** Header that names a deployment directly (checked before the routes). */
export const DEPLOY_ID_HEADER = "x-deno-deploy-id";
/** Header / query parameter that pins a request to a dedicated isolate. */
export const INSTANCE_ID_HEADER = "x-deno-isolate-instance-id";
export const INSTANCE_ID_PARAM = "deno_isolate_instance_id";

/** The pool key of a release. */
export const releaseKey = (r: { name: string; release: number }) =>
  `${r.name}@${r.release}`;

/** Targets by release, made once (the request path asks for one each time). */
const targets = new WeakMap<FunctionRelease, FunctionTarget>();

export function targetOf(r: FunctionRelease): FunctionTarget {
  const known = targets.get(r);
  if (known) return known;
  const t: FunctionTarget = {
    key: releaseKey(r),
    url: `file://${r.artifact}`,
    env: r.env,
    inline: r.optimized,
  };
  if (r.idleMs !== undefined) t.idleMs = r.idleMs;
  // --skip-optimize: the artifact is <release>/src/<entrypoint>; its
  // isolate may read that tree alone (see process_main.ts).
  const suffix = `/${r.entrypoint}`;
  if (!r.optimized && r.artifact.endsWith(suffix)) {
    t.readRoot = r.artifact.slice(0, -suffix.length);
  }
  targets.set(r, t);
  return t;
}
