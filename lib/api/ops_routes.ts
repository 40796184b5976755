/**
 * @module
 * Signed operations besides push: `status` (text), `services` (JSON),
 * `logs` (streamed text, `follow=1` until the client leaves), `rollback`
 * (streamed, with a marker line), `remove` and `restart`. Each request
 * carries id/token/sig1 and a sig2 over `canonicalRequest()`.
 */
import type { Hono } from "hono";
import type { DeploymentStatus } from "../daemon/platform.ts";
import { InputError } from "../errors.ts";
import { type ApiContext, serviceParam } from "./context.ts";
import { auditedRun } from "./audited_run.ts";
import { markerLine, progressResponse } from "./progress_stream.ts";

/** Adds the operation routes. */
export function registerOps(app: Hono, ctx: ApiContext): void {
  const { deps, log } = ctx;

  app.get("/daemon/services", async (c) => {
    await ctx.signed(c.req.raw);
    return c.json(await deps.platform.list());
  });

  app.get("/daemon/status", async (c) => {
    await ctx.signed(c.req.raw);
    return c.text(formatStatus(await deps.platform.list()));
  });

  app.get("/daemon/logs", async (c) => {
    await ctx.signed(c.req.raw);
    const url = new URL(c.req.url);
    const service = serviceParam(url);
    const follow = url.searchParams.get("follow") === "1";
    const tailText = url.searchParams.get("tail");
    const tail = tailText ? Number(tailText) : undefined;
    if (tail !== undefined && !(Number.isInteger(tail) && tail >= 0)) {
      throw new InputError(`tail must be a whole number, got "${tailText}"`);
    }
    const abort = new AbortController();
    c.req.raw.signal.addEventListener("abort", () => abort.abort());
    const lines = deps.platform.logs(service, {
      follow,
      signal: abort.signal,
      ...(tail !== undefined ? { tail } : {}),
    });
    const iter = lines[Symbol.asyncIterator]();
    // Pull the first line before answering, so "no such service" is a 404.
    const first = await iter.next();
    const enc = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(ctl) {
        if (!first.done) {
          ctl.enqueue(enc.encode(first.value.replace(/\n?$/, "\n")));
        } else ctl.close();
      },
      async pull(ctl) {
        try {
          const next = await iter.next();
          if (next.done) ctl.close();
          else ctl.enqueue(enc.encode(next.value.replace(/\n?$/, "\n")));
        } catch (err) {
          log.error(`logs of ${service}: ${err}`);
          ctl.close();
        }
      },
      cancel() {
        abort.abort();
        void iter.return?.();
      },
    });
    return new Response(first.done ? "" : body, {
      headers: {
        "content-type": "text/plain; charset=utf-8",
        "cache-control": "no-store",
      },
    });
  });

  app.post("/daemon/rollback", async (c) => {
    const caller = await ctx.signed(c.req.raw);
    const audit = ctx.audit(c);
    const url = new URL(c.req.url);
    const service = serviceParam(url);
    const rel = url.searchParams.get("release");
    const release = rel ? Number(rel) : undefined;
    if (release !== undefined && !(Number.isInteger(release) && release > 0)) {
      throw new InputError(`release must be a release number, got "${rel}"`);
    }
    const actor = caller.fingerprint;
    return progressResponse(
      "rollback",
      async (progress) => {
        return await auditedRun(
          audit,
          { action: "rollback", actor, service },
          () => deps.platform.rollback(service, release, progress, actor),
        );
      },
      (err) => log.error(`rollback of ${service}: ${err}`),
      {
        heartbeatMs: deps.config.proxy.keepaliveTimeout / 3,
      },
    );
  });

  for (const op of ["remove", "restart"] as const) {
    app.post(`/daemon/${op}`, async (c) => {
      const caller = await ctx.signed(c.req.raw);
      const audit = ctx.audit(c);
      const service = serviceParam(new URL(c.req.url));
      const actor = caller.fingerprint;
      try {
        await deps.platform[op](service, actor);
      } catch (err) {
        await audit.record({
          action: op,
          actor,
          service,
          result: "failed",
          error: (err as Error).message,
        });
        throw err;
      }
      await audit.record({ action: op, actor, service, result: "ok" });
      return c.text(
        `${op === "remove" ? "Removed" : "Restarted"} ${service}\n${
          markerLine(op, { ok: true })
        }\n`,
      );
    });
  }
}

/** The text `mypaas status` prints. */
export function formatStatus(list: DeploymentStatus[]): string {
  if (!list.length) return "No services deployed.\n";
  const lines: string[] = [];
  for (const s of list) {
    lines.push(
      `${s.service} (${s.kind}) release ${s.release ?? "-"}: ${s.state}`,
    );
    for (const u of s.urls) lines.push(`  url ${u}`);
    for (const i of s.instances) {
      lines.push(
        `  ${i.id} ${i.state}${i.restarts ? ` (${i.restarts} restarts)` : ""}${
          i.log ? `, log ${i.log}` : ""
        }`,
      );
    }
    if (s.pool) {
      const p = s.pool;
      lines.push(
        `  isolate pool: ${p.evictions} evictions, ${p.queued} requests queued, ${p.rejected} got 503`,
      );
    }
    if (s.releases.length) lines.push(`  releases ${s.releases.join(", ")}`);
  }
  return lines.join("\n") + "\n";
}
