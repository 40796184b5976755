/**
 * @module
 * What the API's route files share: the dependencies, the per-app context
 * and the small request helpers. Route files import this, never app.ts, so
 * the app and its routes form no import circle.
 */
import type { Context } from "hono";
import type { AuditSink } from "../audit.ts";
import type { ResolvedConfig } from "../config/mod.ts";
import type {
  CheckedDeploy,
  DeployOptions,
  DeployResult,
  Platform,
} from "../daemon/platform.ts";
import { InputError } from "../errors.ts";
import type { KeyLookup } from "../keys/mod.ts";
import type { Logger } from "../log.ts";
import type { Authenticator, Caller } from "./auth.ts";

/** The function side these routes deploy through. */
export interface FunctionUploads {
  deploySingleFile(
    name: string,
    source: string,
    opts: DeployOptions,
    progress: (line: string) => void,
  ): Promise<DeployResult>;
  /** Checks before the stream; without it refusals arrive in the stream. */
  checkSingleFile?(
    name: string,
    source: string,
    opts: DeployOptions,
  ): Promise<CheckedDeploy>;
  remove(name: string, actor?: string): Promise<void>;
}

/** What the API needs. `config` may be replaced on reload. */
export interface ApiDeps {
  platform: Platform;
  config: ResolvedConfig;
  authorizedKeys: KeyLookup;
  audit: AuditSink;
  /** Milliseconds since the epoch. */
  clock: () => number;
  log?: Logger;
  /** The function side, for `/daemon/functions/NAME`. */
  functions?: FunctionUploads;
  /** The Prometheus page of `/daemon/metrics`. */
  metrics?: () => { body: string; type: string };
}

/** Shared by the route files. */
export interface ApiContext {
  deps: ApiDeps;
  auth: Authenticator;
  log: Logger;
  /** Authenticates a request without body (token + canonical sig2). */
  signed(req: Request): Promise<Caller>;
  /** Where uploads unpack. */
  tmpDir(): string;
  /** The audit sink for one request: adds the client address. */
  audit(c: Context): AuditSink;
}

/** What the server passes to `app.fetch(req, env)`. */
export interface ApiEnv {
  /** The client's IP address. */
  remote?: string;
}

/** The `service` query parameter, checked. */
export function serviceParam(url: URL): string {
  const s = url.searchParams.get("service") ?? "";
  if (!/^[a-z0-9][a-z0-9_.-]{0,62}$/i.test(s)) {
    throw new InputError(`service must be a service name, got "${s}"`);
  }
  return s;
}
