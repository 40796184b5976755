/**
 * @module
 * `POST /daemon/push`: authenticate (token, sig1) before reading the body,
 * read at most `server.max_upload` bytes, check sig2 over them, unpack into
 * a fresh directory under `<data_dir>/tmp`, check the spec against the
 * running state (`Platform.check`), then deploy while streaming the
 * progress. Every refusal known before the build (auth, size, archive, spec,
 * URL / publish / volume conflicts) is answered with its 4xx status, so a
 * client that only looks at the status (MyPaas's) sees it too; spec errors
 * name the file inside the upload (`Dockerfile:2: ...`).
 */
import type { Hono } from "hono";
import { extractArchive } from "../archive/mod.ts";
import { InputError, isInputError } from "../errors.ts";
import type { ApiContext } from "./context.ts";
import { checkDeploy } from "../daemon/platform.ts";
import { auditedRun } from "./audited_run.ts";
import { progressResponse } from "./progress_stream.ts";
import { takePushOptions, toDeployOptions } from "./push_options.ts";

/** Adds the push route. */
export function registerPush(app: Hono, ctx: ApiContext): void {
  app.post("/daemon/push", async (c) => {
    const { deps, auth, log } = ctx;
    const audit = ctx.audit(c);
    const req = c.req.raw;
    const url = new URL(req.url);
    const claimed = url.searchParams.get("id") ?? "";
    // Every refusal is audited (with the claimed id until it is verified).
    const refusedBy =
      (actor: string) => async (err: unknown): Promise<never> => {
        await audit.record({
          action: "push",
          actor,
          result: "refused",
          error: (err as Error).message,
        }).catch((e) => log.error(`audit: ${e}`));
        throw err;
      };
    const caller = await auth.caller(url.searchParams).catch(
      refusedBy(claimed ? `unverified:${claimed.slice(0, 20)}` : "anonymous"),
    );
    const actor = caller.fingerprint;
    const refuseAs = refusedBy(actor);
    const { maxUpload, maxUnpacked, maxUploadFiles } = deps.config.server;
    const body = await readCapped(req, maxUpload).catch(refuseAs);
    await auth.checkBody(caller, url.searchParams, body).catch(refuseAs);
    const tmp = ctx.tmpDir();
    await Deno.mkdir(tmp, { recursive: true, mode: 0o700 });
    const work = await Deno.makeTempDir({ dir: tmp, prefix: "push_" });
    let unpacked;
    let checked;
    // The upload lands in work/<client's directory name>: a function
    // without mypaas.service is named after its directory.
    let dir = `${work}/upload`;
    try {
      await Deno.mkdir(dir);
      unpacked = await extractArchive(body, dir, {
        maxBytes: maxUnpacked,
        maxFiles: maxUploadFiles,
      });
      const opts = await takePushOptions(dir);
      const named = `${work}/${opts.name ?? "app"}`;
      await Deno.rename(dir, named);
      dir = named;
      // A refusal (InputError) is answered with its status; any other
      // failure (Docker down) ends the stream as a failed deploy, as before.
      checked = await checkDeploy(deps.platform, dir, {
        ...toDeployOptions(opts, actor),
        displayDir: ".",
      }).catch((err) => {
        if (isInputError(err)) throw err;
        return { run: () => Promise.reject(err) };
      });
    } catch (err) {
      await Deno.remove(work, { recursive: true }).catch(() => {});
      return await refuseAs(err);
    }
    await audit.record({ action: "push", actor, result: "ok" });
    log.info(
      `push by ${actor}: ${unpacked.files} files, ${unpacked.bytes} bytes`,
    );
    return progressResponse(
      "deploy",
      async (progress) => {
        progress(`Signature validated with public key (fingerprint ${actor}).`);
        progress(
          `Unpacked ${unpacked.files} files (${unpacked.bytes} bytes, ${unpacked.format}).`,
        );
        try {
          return await auditedRun(
            audit,
            { action: "deploy", actor },
            () => checked.run(progress),
          );
        } finally {
          await Deno.remove(work, { recursive: true }).catch(() => {});
        }
      },
      (err) => log.error(`deploy by ${actor}: ${(err as Error).stack ?? err}`),
      // a silent build step must not look idle to the connection guard
      { heartbeatMs: deps.config.proxy.keepaliveTimeout / 3 },
    );
  });
}

/** Reads a request body, refusing (413) more than `max` bytes. */
export async function readCapped(
  req: Request,
  max: number,
): Promise<Uint8Array> {
  const tooLarge = () =>
    new InputError(
      `Upload is larger than ${max} bytes (server.max_upload); add big files to .dockerignore`,
      { status: 413 },
    );
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (declared > max) throw tooLarge();
  if (!req.body) return new Uint8Array();
  const parts: Uint8Array<ArrayBuffer>[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    parts.push(value);
  }
  return new Uint8Array(await new Blob(parts).arrayBuffer());
}
