/**
 * @module
 * The replicas of one service: their states, in-flight counts, balancing,
 * sticky cookies, draining, passive ejection and the wait for a usable
 * replica while a deploy is under way. Each target carries the active check
 * of its own release (run by `health.ts`), so that a deploy's new check
 * never judges the replicas it is about to replace.
 */
import type { HttpCheck, ServiceSpec } from "../spec/types.ts";
import type { Upstream } from "../services/traffic.ts";
import { type BalanceMode, Balancer } from "./balancer.ts";
import { readCookie, stickyCookie, type StickySigner } from "./sticky.ts";

/** Where a target stands. Only "healthy" targets get new requests. */
export type TargetState = "healthy" | "unhealthy" | "draining";

/** One replica of a service. */
export class Target {
  state: TargetState = "healthy";
  inflight = 0;
  /** Passive ejection ends at this time (ms since epoch), 0 when none. */
  ejectedUntil = 0;
  /** Its release's active check; none means passive ejection only. */
  check: HttpCheck | undefined;
  /** The release it runs, when the deploy said (traces). */
  releaseName: string | undefined;
  #idle: (() => void)[] = [];

  constructor(
    readonly id: string,
    readonly url: string,
    readonly stickyValue: string,
  ) {}

  /** Counts a request in. */
  acquire(): void {
    this.inflight++;
  }

  /** Counts a request out; wakes a drain waiting for zero. */
  release(): void {
    this.inflight--;
    if (this.inflight === 0 && this.#idle.length) {
      for (const wake of this.#idle.splice(0)) wake();
    }
  }

  /** Resolves once no request is in flight. */
  idle(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}

/** What the pool reads from a request to pick a replica. */
export interface PickInput {
  headers: Headers;
  clientIp: string;
  secure: boolean;
}

/** A picked replica, and the Set-Cookie to add when stickiness is new. */
export interface Picked {
  target: Target;
  setCookie?: string;
}

/** Options of a pool. */
export interface PoolOptions {
  signer: StickySigner;
  /** How long a passively ejected target rests when no healthcheck runs. */
  ejectMs?: number;
  /** Called when a target's state changes (health checks follow it). */
  onChange?: () => void;
}

/** The replicas of one service and how requests are spread on them. */
export class UpstreamPool {
  readonly #targets = new Map<string, Target>();
  #usable: Target[] = [];
  #balancer = new Balancer("round-robin");
  #plain: BalanceMode = "round-robin";
  #spec: PoolSettings;
  #waiters: (() => void)[] = [];

  constructor(readonly service: string, readonly opts: PoolOptions) {
    this.#spec = { service };
  }

  /** The balancing settings now in force. */
  get spec(): PoolSettings {
    return this.#spec;
  }

  /** Applies a (new) spec's balancing settings (checks are per target). */
  configure(spec: PoolSettings): void {
    this.#spec = spec;
    const mode: BalanceMode = spec.hash ? "hash" : this.#plain;
    if (mode !== this.#balancer.mode) this.#balancer = new Balancer(mode);
  }

  /** Chooses round-robin or least-connections for when no hash is set. */
  setMode(mode: "round-robin" | "least-connections"): void {
    this.#plain = mode;
    if (!this.#spec.hash) this.#balancer = new Balancer(mode);
  }

  /** Every target, draining ones included. */
  targets(): Target[] {
    return [...this.#targets.values()];
  }

  /** Targets that may take a new request now. */
  usable(): readonly Target[] {
    return this.#usable;
  }

  /** Adds (or re-adds) a target as healthy, with the upstream's own check. */
  add(upstream: Upstream): Target {
    let t = this.#targets.get(upstream.id);
    if (!t || t.url !== upstream.url) {
      t = new Target(
        upstream.id,
        upstream.url.replace(/\/+$/, ""),
        this.opts.signer.sign(this.service, upstream.id),
      );
      this.#targets.set(upstream.id, t);
    }
    t.check = upstream.healthcheck;
    t.releaseName = upstream.release;
    t.state = "healthy";
    t.ejectedUntil = 0;
    this.#refresh();
    return t;
  }

  /**
   * Takes the target out of rotation, waits for its in-flight requests (at
   * most `timeoutMs`), then forgets it.
   */
  async drain(id: string, timeoutMs: number): Promise<void> {
    const t = this.#targets.get(id);
    if (!t) return;
    t.state = "draining";
    this.#refresh();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      t.idle(),
      new Promise<void>((r) => timer = setTimeout(r, timeoutMs)),
    ]);
    clearTimeout(timer);
    if (this.#targets.get(id) === t && t.state === "draining") {
      this.#targets.delete(id);
      this.opts.onChange?.();
    }
  }

  /** Sets a target's health from an active check. */
  setHealthy(t: Target, healthy: boolean): void {
    if (t.state === "draining" || this.#targets.get(t.id) !== t) return;
    const next = healthy ? "healthy" : "unhealthy";
    if (t.state === next && (!healthy || t.ejectedUntil === 0)) return;
    t.state = next;
    t.ejectedUntil = 0;
    this.#refresh();
  }

  /** Passive ejection after a connection error. */
  eject(t: Target): void {
    if (t.state !== "healthy") return;
    t.state = "unhealthy";
    if (!t.check) {
      const ms = this.opts.ejectMs ?? 5000;
      t.ejectedUntil = Date.now() + ms;
    }
    this.#refresh();
  }

  /** Picks a usable target not in `exclude`, honouring sticky and hash. */
  pick(input: PickInput, exclude?: ReadonlySet<Target>): Picked | undefined {
    this.#readmitEjected();
    let list = this.#usable;
    if (exclude?.size) list = list.filter((t) => !exclude.has(t));
    if (list.length === 0) return undefined;
    const sticky = this.#spec.sticky;
    if (sticky) {
      const value = readCookie(input.headers.get("cookie"), sticky.cookie);
      if (value) {
        const t = list.find((t) => t.stickyValue === value);
        if (t) return { target: t };
      }
      const target = this.#balancer.pick(list)!;
      return {
        target,
        setCookie: stickyCookie(sticky.cookie, target.stickyValue, {
          ...(sticky.maxAgeS !== undefined ? { maxAgeS: sticky.maxAgeS } : {}),
          secure: input.secure,
        }),
      };
    }
    return { target: this.#balancer.pick(list, this.#hashKey(input))! };
  }

  /** Resolves true once a target is usable, false after `ms`. */
  waitUsable(ms: number): Promise<boolean> {
    this.#readmitEjected();
    if (this.#usable.length) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(this.#usable.length > 0);
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== wake);
        this.#readmitEjected();
        resolve(this.#usable.length > 0);
      }, ms);
      this.#waiters.push(wake);
    });
  }

  /** Forgets every target and wakes every waiter (service removed). */
  clear(): void {
    this.#targets.clear();
    this.#refresh();
    for (const wake of this.#waiters.splice(0)) wake();
  }

  #hashKey(input: PickInput): string | undefined {
    const hash = this.#spec.hash;
    if (!hash) return undefined;
    if (hash.by === "ip") return input.clientIp;
    if (hash.by === "header") return input.headers.get(hash.name) ?? undefined;
    return readCookie(input.headers.get("cookie"), hash.name);
  }

  #readmitEjected(): void {
    const now = Date.now();
    let changed = false;
    for (const t of this.#targets.values()) {
      if (t.ejectedUntil && t.ejectedUntil <= now && t.state === "unhealthy") {
        t.state = "healthy";
        t.ejectedUntil = 0;
        changed = true;
      }
    }
    if (changed) this.#refresh();
  }

  #refresh(): void {
    this.#usable = [...this.#targets.values()].filter((t) =>
      t.state === "healthy"
    );
    if (this.#usable.length && this.#waiters.length) {
      for (const wake of this.#waiters.splice(0)) wake();
    }
    this.opts.onChange?.();
  }
}

/** The parts of a ServiceSpec a pool reads. */
export type PoolSettings =
  & Pick<ServiceSpec, "service">
  & Partial<Pick<ServiceSpec, "sticky" | "hash">>;
