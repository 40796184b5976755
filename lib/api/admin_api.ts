/**
 * @module
 * The admin API as a daemon part: owns the Hono app, the authorized keys
 * (re-read when the file changes) and the audit log. The proxy serves it
 * for `/daemon/*` on the admin domain: `router.setAdminHandler(api.handler)`.
 */
import type { Hono } from "hono";
import { AuditLog, type AuditSink } from "../audit.ts";
import { dataPaths, type ResolvedConfig } from "../config/config.ts";
import type { Platform } from "../daemon/platform.ts";
import { AuthorizedKeys } from "../keys/mod.ts";
import { type Logger, silentLogger } from "../log.ts";
import { createApiApp } from "./app.ts";
import type { ApiDeps, ApiEnv, FunctionUploads } from "./context.ts";

/** The admin API part. */
export class AdminApi {
  readonly name = "admin-api";
  readonly app: Hono;
  readonly #deps: ApiDeps;

  constructor(
    config: ResolvedConfig,
    opts: {
      platform: Platform;
      functions?: FunctionUploads;
      log?: Logger;
      audit?: AuditSink;
      clock?: () => number;
      metrics?: ApiDeps["metrics"];
    },
  ) {
    const log = opts.log ?? silentLogger;
    const paths = dataPaths(config);
    this.#deps = {
      platform: opts.platform,
      config,
      authorizedKeys: new AuthorizedKeys(paths.authorizedKeys, { log }),
      audit: opts.audit ?? new AuditLog(paths.audit),
      clock: opts.clock ?? Date.now,
      log,
      ...(opts.functions ? { functions: opts.functions } : {}),
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
    };
    this.app = createApiApp(this.#deps);
  }

  /** Answers one `/daemon/*` request (a proxy handler backend). */
  readonly handler = (
    req: Request,
    info?: { remoteAddr?: Deno.NetAddr },
  ): Promise<Response> => {
    const env: ApiEnv = info?.remoteAddr
      ? { remote: info.remoteAddr.hostname }
      : {};
    return Promise.resolve(this.app.fetch(req, env));
  };

  /** Removes uploads left over from a crash and loads the keys. */
  async start(): Promise<void> {
    const tmp = dataPaths(this.#deps.config).tmp;
    await Deno.mkdir(tmp, { recursive: true, mode: 0o700 });
    for await (const e of Deno.readDir(tmp)) {
      if (e.name.startsWith("push_")) {
        await Deno.remove(`${tmp}/${e.name}`, { recursive: true });
      }
    }
    const keys = this.#deps.authorizedKeys;
    if (keys instanceof AuthorizedKeys) await keys.refresh(true);
  }

  /** Nothing to stop: in-flight pushes finish with their requests. */
  stop(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Applies a reloaded config (SIGHUP): limits and paths take effect for the
   * next request; authorized_keys is re-read now.
   */
  async reload(config: ResolvedConfig): Promise<void> {
    const before = dataPaths(this.#deps.config);
    const after = dataPaths(config);
    this.#deps.config = config;
    if (after.authorizedKeys !== before.authorizedKeys) {
      this.#deps.authorizedKeys = new AuthorizedKeys(after.authorizedKeys, {
        log: this.#deps.log ?? silentLogger,
      });
    }
    if (after.audit !== before.audit) {
      this.#deps.audit = new AuditLog(after.audit);
    }
    const keys = this.#deps.authorizedKeys;
    if (keys instanceof AuthorizedKeys) await keys.refresh(true);
  }
}
