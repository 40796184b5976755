/**
 * @module
 * `GET /daemon/metrics`: the Prometheus page, behind
 * `Authorization: Bearer <[telemetry] metrics_token>` (compared in constant
 * time). An empty token disables the page (404), a missing or wrong one is
 * 401; read per request, so a reload that changes the token applies at once.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Hono } from "hono";
import type { ApiContext } from "./context.ts";

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Registers the route. */
export function registerMetrics(app: Hono, ctx: ApiContext): void {
  app.get("/daemon/metrics", (c) => {
    const token = ctx.deps.config.telemetry.metricsToken;
    const render = ctx.deps.metrics;
    if (!token || !render) {
      return c.text(
        "metrics are disabled: set [telemetry] metrics_token in config.toml\n",
        404,
      );
    }
    const given = /^Bearer\s+(\S+)\s*$/i.exec(
      c.req.header("authorization") ?? "",
    )?.[1];
    if (!given || !timingSafeEqual(digest(given), digest(token))) {
      ctx.log.warn(
        `/daemon/metrics: ${given ? "wrong" : "no"} bearer token`,
      );
      return c.text(
        "send Authorization: Bearer <[telemetry] metrics_token>\n",
        401,
        { "www-authenticate": 'Bearer realm="mypaas"' },
      );
    }
    const page = render();
    return c.body(page.body, 200, { "content-type": page.type });
  });
}
