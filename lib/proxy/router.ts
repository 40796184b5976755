/**
 * @module
 * The router: owns the route table, the services' upstream pools and their
 * health checkers (each upstream checked with its own release's check), and the handler backends (isolate functions, the admin
 * API). It implements the TrafficControl port that deploys drive.
 */
import { InputError } from "../errors.ts";
import type { TrafficControl, Upstream } from "../services/traffic.ts";
import type { ServiceSpec, SpecUrl } from "../spec/types.ts";
import { HealthChecker } from "./health.ts";
import type { RequestHead } from "./headers.ts";
import { type Route, RouteTable } from "./route_table.ts";
import { StickySigner } from "./sticky.ts";
import { UpstreamPool } from "./upstream_pool.ts";

/** What a handler backend learns about a request besides the Request. */
export interface RequestInfo {
  remoteAddr: Deno.NetAddr;
  scheme: "http" | "https";
  requestId: string;
  /** The request's headers, already read once by the proxy. */
  head?: RequestHead;
}

/** A backend that answers in-process (isolate functions, the admin API). */
export type HandlerBackend = (
  req: Request,
  info: RequestInfo,
) => Promise<Response>;

/** A route as the router stores it. */
export type ProxyRoute = Route<UpstreamPool, HandlerBackend>;

/** Options of a router. */
export interface RouterOptions {
  /** Strip a route's path prefix before forwarding (default false). */
  stripPrefix?: boolean;
  /** Key for sticky cookie values (random per process by default). */
  stickySecret?: Uint8Array;
  /** Rest time of a passively ejected replica without healthcheck. */
  ejectMs?: number;
}

/** Routes, pools and backends; swaps tables atomically on every change. */
export class Router implements TrafficControl {
  #table = new RouteTable<UpstreamPool, HandlerBackend>();
  readonly #pools = new Map<string, UpstreamPool>();
  readonly #checkers = new Map<string, HealthChecker>();
  readonly #signer: StickySigner;
  #admin: HandlerBackend | undefined;
  #challenge: HandlerBackend | undefined;
  #deployId: HandlerBackend | undefined;

  constructor(readonly opts: RouterOptions = {}) {
    this.#signer = new StickySigner(opts.stickySecret);
  }

  /** The current table; a request keeps the one it looked up. */
  get table(): RouteTable<UpstreamPool, HandlerBackend> {
    return this.#table;
  }

  /** The admin API (`/daemon/*` on the admin domain). */
  get adminHandler(): HandlerBackend | undefined {
    return this.#admin;
  }

  /** The ACME HTTP-01 responder (`/.well-known/acme-challenge/*`). */
  get challengeHandler(): HandlerBackend | undefined {
    return this.#challenge;
  }

  /** The handler of requests that name a function by `x-deno-deploy-id`. */
  get deployIdHandler(): HandlerBackend | undefined {
    return this.#deployId;
  }

  /**
   * Sets the handler of requests with an `x-deno-deploy-id` header: they
   * reach that function deployment whatever their Host.
   */
  setDeployIdHandler(handler: HandlerBackend | undefined): void {
    this.#deployId = handler;
  }

  /** Sets the handler for `/daemon/*` on the admin domain. */
  setAdminHandler(handler: HandlerBackend | undefined): void {
    this.#admin = handler;
  }

  /** Sets the handler for `/.well-known/acme-challenge/*` on plain HTTP. */
  setChallengeHandler(handler: HandlerBackend | undefined): void {
    this.#challenge = handler;
  }

  /** The pool of a service, if it has one. */
  pool(service: string): UpstreamPool | undefined {
    return this.#pools.get(service);
  }

  /** Hosts with at least one route. */
  hosts(): string[] {
    return [...new Set(this.#table.routes().map((r) => r.host))];
  }

  /** Hosts with an https route: the names that want certificates. */
  httpsHosts(): string[] {
    return [
      ...new Set(
        this.#table.routes().filter((r) => r.scheme === "https").map((r) =>
          r.host
        ),
      ),
    ];
  }

  // ---- TrafficControl ----

  checkUrls(service: string, urls: ServiceSpec["urls"]): void {
    this.#table.checkClaims(service, urls);
  }

  setService(spec: ServiceSpec): void {
    let pool = this.#pools.get(spec.service);
    if (!pool) {
      pool = new UpstreamPool(spec.service, {
        signer: this.#signer,
        ...(this.opts.ejectMs !== undefined
          ? { ejectMs: this.opts.ejectMs }
          : {}),
      });
    }
    const routes = this.#routes(spec.service, spec.urls, {
      kind: "pool",
      pool,
    });
    this.#table = this.#table.withOwner(spec.service, routes);
    pool.configure(spec);
    this.#pools.set(spec.service, pool);
    // health settings belong to each upstream (its release), not to the
    // service: a new spec's check must not judge the replicas still serving
    if (!this.#checkers.has(spec.service)) {
      this.#checkers.set(spec.service, new HealthChecker(pool));
    }
  }

  addUpstream(service: string, upstream: Upstream): void {
    this.#poolOf(service).add(upstream);
    this.#checkers.get(service)?.sync();
  }

  drainUpstream(
    service: string,
    id: string,
    timeoutMs: number,
  ): Promise<void> {
    const pool = this.#pools.get(service);
    if (!pool) return Promise.resolve();
    const done = pool.drain(id, timeoutMs);
    this.#checkers.get(service)?.sync(); // a draining target is not checked
    return done;
  }

  removeService(service: string): void {
    this.#table = this.#table.withoutOwner(service);
    this.#checkers.get(service)?.stop();
    this.#checkers.delete(service);
    this.#pools.get(service)?.clear();
    this.#pools.delete(service);
  }

  // ---- handler backends (isolate functions) ----

  /** Routes `urls` to an in-process handler; throws InputError on conflicts. */
  setHandler(name: string, urls: SpecUrl[], handler: HandlerBackend): void {
    if (this.#pools.has(name)) {
      throw new InputError(
        `"${name}" is already a container service: remove it first or pick another name`,
        { status: 409 },
      );
    }
    this.#table = this.#table.withOwner(
      name,
      this.#routes(name, urls, { kind: "handler", handler }),
    );
  }

  /** Removes a handler backend's routes. */
  removeHandler(name: string): void {
    this.#table = this.#table.withoutOwner(name);
  }

  /** Switches a service between round-robin and least-connections. */
  setBalanceMode(
    service: string,
    mode: "round-robin" | "least-connections",
  ): void {
    this.#poolOf(service).setMode(mode);
  }

  /** Stops every health checker; idempotent. */
  stop(): void {
    for (const c of this.#checkers.values()) c.stop();
  }

  #poolOf(service: string): UpstreamPool {
    const pool = this.#pools.get(service);
    if (!pool) {
      throw new Error(
        `Service "${service}" has no routes yet: call setService() before addUpstream()`,
      );
    }
    return pool;
  }

  #routes(
    owner: string,
    urls: readonly SpecUrl[],
    target: ProxyRoute["target"],
  ): ProxyRoute[] {
    return urls.map((u) => ({
      owner,
      host: u.host,
      path: u.path,
      scheme: u.scheme,
      stripPrefix: this.opts.stripPrefix ?? false,
      target,
    }));
  }
}
