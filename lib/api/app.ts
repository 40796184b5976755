/**
 * @module
 * The daemon's HTTPS API under `/daemon` on the admin domain (Hono):
 * `time` and `push` as MyPaas speaks them, plus signed `status`,
 * `services`, `logs`, `rollback`, `remove` and `restart`. Every change goes
 * through the `Platform` and is written to the audit log. Built apart from
 * any server: the proxy calls `app.fetch` for `/daemon/*`.
 */
import { Hono } from "hono";
import { dataPaths } from "../config/config.ts";
import { isInputError } from "../errors.ts";
import { silentLogger } from "../log.ts";
import { Authenticator, AuthError } from "./auth.ts";
import type { ApiContext, ApiDeps, ApiEnv } from "./context.ts";
import { registerFunctions } from "./functions_route.ts";
import { registerMetrics } from "./metrics_route.ts";
import { registerOps } from "./ops_routes.ts";
import { registerPush } from "./push_route.ts";

export type { ApiContext, ApiDeps, ApiEnv } from "./context.ts";

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
  registerMetrics(app, ctx);
  return app;
}
