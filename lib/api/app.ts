/**
 * @module
 * The daemon's HTTPS API under `/daemon` on the admin domain (Hono):
 * `time` and `push` as MyPaas speaks them, plus signed `status`,
 * `services`, `logs`, `rollback`, `remove` and `restart`. Every change goes
 * through the `Platform` and is written to the audit log. Built apart from
 * any server: the proxy calls `app.fetch` for `/daemon/*`.
 */
import { type Context, Hono } from "hono";
import type { ResolvedConfig } from "../config/mod.ts";
import { dataPaths } from "../config/config.ts";
import type { Platform } from "../daemon/platform.ts";
import { InputError, isInputError } from "../errors.ts";
import type { KeyLookup } from "../keys/mod.ts";
import { type Logger, silentLogger } from "../log.ts";
import type { AuditSink } from "../audit.ts";
import { Authenticator, AuthError, type Caller } from "./auth.ts";
import { type FunctionUploads, registerFunctions } from "./functions_route.ts";
import { registerOps } from "./ops_routes.ts";
import { registerPush } from "./push_route.ts";

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

/** Builds the API app. */
export function createApiApp(deps: ApiDeps): Hono {
  const log = deps.log ?? silentLogger;
  // Through deps, so a reload that swaps the key file takes effect.
  const auth = new Authenticator(
    { find: (fp) => deps.authorizedKeys.find(fp) },
    deps.clock,
  );
  const ctx: ApiContext = {
    deps,
    auth,
    log,
    async signed(req) {
      const url = new URL(req.url);
      const caller = await auth.caller(url.searchParams);
      await auth.checkRequest(caller, req.method, url);
      return caller;
    },
    tmpDir: () => dataPaths(deps.config).tmp,
    audit: (c) => {
      const remote = (c.env as ApiEnv | undefined)?.remote;
      return {
        record: (e) => deps.audit.record(remote ? { ...e, remote } : e),
      };
    },
  };
  const app = new Hono();
  app.onError((err, c) => {
    if (isInputError(err)) {
      if (err instanceof AuthError) log.warn(`${c.req.path}: ${err.message}`);
      return c.text(err.message + "\n", err.status as 400);
    }
    log.error(`${c.req.method} ${c.req.path}: ${(err as Error).stack ?? err}`);
    return c.text("Internal server error\n", 500);
  });
  app.notFound((c) => c.text("404 not found\n", 404));
  app.get("/daemon", (c) => c.redirect("/daemon/"));
  app.get("/daemon/", (c) =>
    c.text(
      'mypaas daemon: push with "mypaas push"; GET /daemon/time for the server time\n',
    ));
  app.get(
    "/daemon/time",
    (c) => c.text(String(Math.floor(deps.clock() / 1000))),
  );
  registerPush(app, ctx);
  registerOps(app, ctx);
  registerFunctions(app, ctx);
  return app;
}

/** The `service` query parameter, checked. */
export function serviceParam(url: URL): string {
  const s = url.searchParams.get("service") ?? "";
  if (!/^[a-z0-9][a-z0-9_.-]{0,62}$/i.test(s)) {
    throw new InputError(`service must be a service name, got "${s}"`);
  }
  return s;
}
