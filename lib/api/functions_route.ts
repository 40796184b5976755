/**
 * @module
 * The serverless seed's function API: `POST /daemon/functions/NAME` with
 * one source file as the body deploys it (signed like a push: sig1 over the
 * token, sig2 over the body; settings come from the file's own
 * `// mypaas.*` comments), `DELETE /daemon/functions/NAME` removes it
 * (signed like the other operations).
 */
import type { Hono } from "hono";
import type { CheckedDeploy } from "../daemon/platform.ts";
import { InputError, isInputError } from "../errors.ts";
import type { ApiContext } from "./context.ts";
import { auditedRun } from "./audited_run.ts";
import { markerLine, progressResponse } from "./progress_stream.ts";
import { readCapped } from "./push_route.ts";

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const ENTRY = /^[A-Za-z0-9_-]{1,64}\.(ts|js|mjs|tsx|jsx)$/;

/** Adds the function routes (404 when the daemon has no function side). */
export function registerFunctions(app: Hono, ctx: ApiContext): void {
  const functionsOf = () => {
    const f = ctx.deps.functions;
    if (!f) {
      throw new InputError("this daemon does not serve functions", {
        status: 404,
      });
    }
    return f;
  };

  app.post("/daemon/functions/:name", async (c) => {
    const functions = functionsOf();
    const req = c.req.raw;
    const url = new URL(req.url);
    const caller = await ctx.auth.caller(url.searchParams);
    const body = await readCapped(req, ctx.deps.config.server.maxUpload);
    await ctx.auth.checkBody(caller, url.searchParams, body);
    const name = nameParam(c.req.param("name"));
    const entry = url.searchParams.get("entrypoint") ?? "main.ts";
    if (!ENTRY.test(entry)) {
      throw new InputError(
        `entrypoint must be a file name such as "main.ts", got "${entry}"`,
      );
    }
    let source: string;
    try {
      source = new TextDecoder("utf-8", { fatal: true }).decode(body);
    } catch {
      throw new InputError("the function source must be UTF-8 text");
    }
    if (!source.trim()) throw new InputError("the function source is empty");
    const actor = caller.fingerprint;
    const audit = ctx.audit(c);
    const opts = { entrypoint: entry, actor };
    // Refusals known before the stream (spec, admin domain, URL claims) are
    // answered with their 4xx; other failures end the stream as failed.
    let checked: CheckedDeploy = {
      run: (progress) =>
        functions.deploySingleFile(name, source, opts, progress),
    };
    if (functions.checkSingleFile) {
      try {
        checked = await functions.checkSingleFile(name, source, opts);
      } catch (err) {
        if (!isInputError(err)) {
          checked = { run: () => Promise.reject(err) };
        } else {
          await audit.record({
            action: "deploy",
            actor,
            service: name,
            result: "refused",
            error: (err as Error).message,
          }).catch((e) => ctx.log.error(`audit: ${e}`));
          throw err;
        }
      }
    }
    return progressResponse(
      "deploy",
      (progress) =>
        auditedRun(
          audit,
          { action: "deploy", actor, service: name },
          () => checked.run(progress),
        ),
      (err) =>
        ctx.log.error(`function ${name}: ${(err as Error).stack ?? err}`),
      { heartbeatMs: ctx.deps.config.proxy.keepaliveTimeout / 3 },
    );
  });

  app.delete("/daemon/functions/:name", async (c) => {
    const functions = functionsOf();
    const caller = await ctx.signed(c.req.raw);
    const name = nameParam(c.req.param("name"));
    const actor = caller.fingerprint;
    const audit = ctx.audit(c);
    try {
      await functions.remove(name, actor);
    } catch (err) {
      await audit.record({
        action: "remove",
        actor,
        service: name,
        result: "failed",
        error: (err as Error).message,
      });
      throw err;
    }
    await audit.record({
      action: "remove",
      actor,
      service: name,
      result: "ok",
    });
    return c.text(`Removed ${name}\n${markerLine("remove", { ok: true })}\n`);
  });
}

function nameParam(name: string): string {
  if (!NAME.test(name)) {
    throw new InputError(
      `function name must be lower-case letters, digits and dashes, got "${name}"`,
    );
  }
  return name;
}
