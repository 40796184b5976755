/**
 * @module
 * The proxy as a daemon part: the plain HTTP and the HTTPS listeners on
 * `[server] bind`, both serving the same router. Ports come from the config
 * (0 there disables a listener); tests pass explicit ports (0 = ephemeral).
 */
import type { ResolvedConfig } from "../config/mod.ts";
import { type Logger, silentLogger } from "../log.ts";
import { errorPage } from "./error_pages.ts";
import {
  createProxyHandler,
  type ProxyHandler,
  type RequestObserve,
} from "./proxy_handler.ts";
import type { Router } from "./router.ts";
import { fetchSend, h1Send, type UpstreamSend } from "./forward.ts";
import { H1Client } from "../http1/client.ts";
import { type CertSource, serveTls, type TlsServer } from "./tls_server.ts";
import { ConnGuard, connKey, type SsRunner } from "./conn_guard.ts";

/** Options of the proxy part. */
export interface ProxyServerOptions {
  router: Router;
  config: Pick<ResolvedConfig, "server" | "proxy">;
  /** Certificates for HTTPS; without them no HTTPS listener starts. */
  certs?: CertSource;
  log?: Logger;
  /**
   * Ports to bind instead of the config's: a number (0 = ephemeral) or
   * false to disable that listener.
   */
  listen?: { http?: number | false; https?: number | false };
  /**
   * Upstream client: "h1" (default; hand-written keep-alive HTTP/1.1, passes
   * Host, least CPU) or "fetch" (Deno.createHttpClient pool).
   */
  upstreamClient?: "h1" | "fetch";
  /** Runs `ss` for the connection guard (tests inject failures). */
  ss?: SsRunner;
  /** Metrics (and traces) of routed requests. */
  observe?: RequestObserve;
}

/** The HTTP and HTTPS listeners of the proxy. */
export class ProxyServer {
  readonly name = "proxy";
  readonly #opts: ProxyServerOptions;
  readonly #log: Logger;
  #close: (() => void) | undefined;
  #http: Deno.HttpServer<Deno.NetAddr> | undefined;
  #https: TlsServer | undefined;
  #unsubscribe: (() => void) | undefined;
  #handler: ProxyHandler | undefined;
  #makeHandler:
    | ((config: Pick<ResolvedConfig, "server" | "proxy">) => ProxyHandler)
    | undefined;
  /** Header and keep-alive timeouts of the listeners' connections. */
  readonly guard: ConnGuard;

  constructor(opts: ProxyServerOptions) {
    this.#opts = opts;
    this.#log = opts.log ?? silentLogger;
    this.guard = new ConnGuard({
      timeouts: opts.config.proxy,
      ports: () =>
        [this.#http?.addr.port, this.#https?.addr.port].filter(
          (p): p is number => p !== undefined,
        ),
      log: this.#log,
      ...(opts.ss ? { ss: opts.ss } : {}),
    });
  }

  /** Bound address of the HTTP listener, once started. */
  get httpAddr(): Deno.NetAddr | undefined {
    return this.#http?.addr;
  }

  /** Bound address of the HTTPS listener, once started. */
  get httpsAddr(): Deno.NetAddr | undefined {
    return this.#https?.addr;
  }

  /** Binds the listeners. */
  async start(): Promise<void> {
    const { config, certs } = this.#opts;
    const bind = config.server.bind;
    const httpPort = portOf(this.#opts.listen?.http, config.server.httpPort);
    let httpsPort = portOf(this.#opts.listen?.https, config.server.httpsPort);
    if (httpsPort !== undefined && !certs) {
      this.#log.warn("no certificate source: HTTPS listener not started");
      httpsPort = undefined;
    }
    let send: UpstreamSend;
    if (this.#opts.upstreamClient === "fetch") {
      const client = Deno.createHttpClient({ poolMaxIdlePerHost: 512 });
      send = fetchSend(client);
      this.#close = () => client.close();
    } else {
      const client = new H1Client({ maxIdlePerOrigin: 512 });
      send = h1Send(client);
      this.#close = () => client.close();
    }
    const handler = (httpsBound: number) => {
      this.#makeHandler = (c) =>
        createProxyHandler(this.#opts.router, {
          ...c.proxy,
          domain: c.server.domain,
          httpsPort: httpsBound,
          ...(this.#opts.observe ? { observe: this.#opts.observe } : {}),
        }, send);
      return this.#makeHandler(config);
    };
    const onError = (e: unknown) => {
      this.#log.error(`request failed: ${(e as Error)?.message ?? e}`);
      return errorPage(500);
    };
    try {
      if (httpsPort !== undefined && certs) {
        this.#https = this.#bindTls(bind, httpsPort, certs, onError, true);
        this.#handler = handler(this.#https.addr.port);
        this.#unsubscribe = certs.onChange(() => this.#rebindTls(certs));
        this.#log.info(
          `https on ${bind}:${this.#https.addr.port}${
            this.#https.sni ? "" : " (no SNI: default certificate only)"
          }`,
        );
      } else {
        this.#handler = handler(config.server.httpsPort || 443);
      }
      if (httpPort !== undefined) {
        this.#http = Deno.serve(
          {
            hostname: bind,
            port: httpPort,
            automaticCompression: false,
            onListen() {},
            onError,
          },
          (req, info) => this.#serve(req, info.remoteAddr, "http"),
        );
        this.#log.info(`http on ${bind}:${this.#http.addr.port}`);
      }
      this.guard.start();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /**
   * Applies a reloaded config: limits, timeouts and the admin domain take
   * effect for the next request; in-flight requests and listeners stay.
   */
  reload(config: Pick<ResolvedConfig, "server" | "proxy">): Promise<void> {
    if (this.#makeHandler) this.#handler = this.#makeHandler(config);
    this.guard.setTimeouts(config.proxy);
    return Promise.resolve();
  }

  /** Runs the handler, telling the guard the connection is in use. */
  async #serve(
    req: Request,
    remoteAddr: Deno.NetAddr,
    scheme: "http" | "https",
  ): Promise<Response> {
    const local = scheme === "http" ? this.#http : this.#https;
    const entry = this.guard.begin(
      connKey(remoteAddr.hostname, remoteAddr.port, local?.addr.port ?? 0),
    );
    let status = 0;
    try {
      const res = await this.#handler!(req, { remoteAddr, scheme });
      status = res.status;
      return res;
    } finally {
      this.guard.end(entry, status);
    }
  }

  /**
   * Closes the listeners after in-flight requests (at most the drain
   * timeout); idempotent.
   */
  async stop(): Promise<void> {
    this.guard.stop();
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    const http = this.#http;
    const https = this.#https;
    this.#http = undefined;
    this.#https = undefined;
    // graceful, but bounded: a long download must not hold the daemon's stop
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([http?.shutdown(), https?.shutdown()]),
      new Promise((r) =>
        timer = setTimeout(r, this.#opts.config.proxy.drainTimeout)
      ),
    ]);
    clearTimeout(timer);
    this.#close?.();
    this.#close = undefined;
    this.#opts.router.stop();
  }

  #bindTls(
    bind: string,
    port: number,
    certs: CertSource,
    onError: (e: unknown) => Response,
    reusePort: boolean,
  ): TlsServer {
    return serveTls(
      { hostname: bind, port, certs, onError, reusePort },
      (req, info) => this.#serve(req, info.remoteAddr as Deno.NetAddr, "https"),
    );
  }

  /** New certificates: bind a fresh listener beside the old, retire the old. */
  #rebindTls(certs: CertSource): void {
    const old = this.#https;
    if (!old) return;
    try {
      this.#https = this.#bindTls(
        old.addr.hostname,
        old.addr.port,
        certs,
        (e) => {
          this.#log.error(`request failed: ${(e as Error)?.message ?? e}`);
          return errorPage(500);
        },
        true,
      );
      old.shutdown().catch(() => {});
    } catch (err) {
      this.#log.warn(
        `certificates changed but the HTTPS listener could not be rebound: ${
          (err as Error).message
        }; new certificates apply to names not yet seen`,
      );
    }
  }
}

function portOf(
  override: number | false | undefined,
  configured: number,
): number | undefined {
  if (override === false) return undefined;
  if (override !== undefined) return override;
  return configured === 0 ? undefined : configured;
}
