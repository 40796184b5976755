/**
 * @module
 * Keeps every routed domain served by a valid certificate: a self-signed
 * placeholder at once, then an ACME certificate; renewal when
 * `renewFraction` of the lifetime is left or the CA's ARI window opens;
 * exponential backoff while the CA fails, the old certificate serving
 * meanwhile. Without an issuer (ACME off) domains get self-signed
 * certificates only. One order at a time, in due order.
 */
import type { Logger } from "../log.ts";
import { silentLogger } from "../log.ts";
import type { Issuer } from "./acme_issuer.ts";
import { ARI_DEFAULT_RETRY } from "./acme_issuer.ts";
import { type CertOrigin, type CertStore, checkDomain } from "./cert_store.ts";
import { type Clock, realClock } from "./clock.ts";
import {
  backoffDelay,
  type BackoffOptions,
  renewalTime,
  type RenewalWindow,
} from "./schedule.ts";

/** Options of an AcmeManager. */
export interface AcmeManagerOptions {
  store: CertStore;
  /** The CA; undefined when ACME is off (self-signed only). */
  issuer?: Issuer;
  /** Renew when this fraction of the lifetime is left (config.acme.renewFraction). */
  renewFraction: number;
  log?: Logger;
  clock?: Clock;
  random?: () => number;
  backoff?: BackoffOptions;
  /** Longest wait in stop() for an order under way (ms). */
  stopTimeout?: number;
}

/** What the manager knows about one domain (status output, tests). */
export interface DomainStatus {
  domain: string;
  origin: CertOrigin | "none";
  notAfter?: Date;
  /** Epoch ms of the next check or attempt. */
  nextAttempt: number;
  /** Consecutive failed orders. */
  failures: number;
  lastError?: string;
}

interface DomainState {
  due: number;
  failures: number;
  lastError?: string;
  /** Serial of the certificate `renewAt` was computed for. */
  serial?: string;
  renewAt?: number;
  ari?: RenewalWindow;
  ariNext?: number;
}

/** How long a domain with a manual or self-signed-only cert waits between checks. */
const RECHECK = 3_600_000;
/** The longest single timer, so a suspended host or clock jump is noticed. */
const MAX_TIMER = 3_600_000;

/** Issues and renews the certificates of the routed domains. */
export class AcmeManager {
  readonly name = "acme";
  readonly #store: CertStore;
  readonly #issuer: Issuer | undefined;
  readonly #fraction: number;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #backoff: BackoffOptions;
  readonly #stopTimeout: number;
  readonly #domains = new Map<string, DomainState>();
  #timer: unknown;
  #running: Promise<void> | undefined;
  #started = false;
  #stopped = false;

  constructor(opts: AcmeManagerOptions) {
    if (!(opts.renewFraction > 0 && opts.renewFraction < 1)) {
      throw new RangeError(
        `renewFraction must lie between 0 and 1: got ${opts.renewFraction}`,
      );
    }
    this.#store = opts.store;
    this.#issuer = opts.issuer;
    this.#fraction = opts.renewFraction;
    this.#log = opts.log ?? silentLogger;
    this.#clock = opts.clock ?? realClock;
    this.#random = opts.random ?? Math.random;
    this.#backoff = opts.backoff ?? {};
    this.#stopTimeout = opts.stopTimeout ?? 5_000;
  }

  /** Begins scheduling; domains come from ensure(). */
  start(): Promise<void> {
    this.#started = true;
    this.#stopped = false;
    this.#kick();
    return Promise.resolve();
  }

  /** Stops scheduling; waits at most `stopTimeout` for an order under way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#started = false;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#issuer?.close?.();
    if (!this.#running) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#stopTimeout);
    });
    await Promise.race([this.#running.catch(() => {}), timeout]);
    clearTimeout(timer);
  }

  /**
   * Sets the domains that need certificates (called when routes change).
   * New ones get a self-signed certificate before this returns and an ACME
   * order soon after; dropped ones are no longer renewed (files are kept).
   * Names that are not DNS names are logged and skipped.
   */
  async ensure(domains: string[]): Promise<void> {
    const wanted = new Set<string>();
    for (const d of domains) {
      try {
        wanted.add(checkDomain(d));
      } catch (err) {
        this.#log.warn((err as Error).message);
      }
    }
    for (const d of this.#domains.keys()) {
      if (!wanted.has(d)) this.#domains.delete(d);
    }
    await this.#store.batch(async () => {
      for (const d of wanted) {
        if (this.#domains.has(d)) continue;
        await this.#store.ensureSelfSigned(d);
        this.#domains.set(d, { due: this.#clock.now(), failures: 0 });
      }
    });
    this.#kick();
  }

  /** The state of every wanted domain. */
  status(): DomainStatus[] {
    return [...this.#domains].map(([domain, s]) => {
      const cert = this.#store.lookup(domain);
      return {
        domain,
        origin: cert?.origin ?? "none",
        ...(cert ? { notAfter: cert.info.notAfter } : {}),
        nextAttempt: s.due,
        failures: s.failures,
        ...(s.lastError ? { lastError: s.lastError } : {}),
      };
    });
  }

  /** Resolves once no check or order is under way (tests). */
  async whenIdle(): Promise<void> {
    while (this.#running) await this.#running.catch(() => {});
  }

  /** Runs every check that is due now, then re-arms the timer. */
  #kick(): void {
    if (!this.#started || this.#stopped || this.#running) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#running = this.#runDue().finally(() => {
      this.#running = undefined;
      this.#arm();
    });
  }

  async #runDue(): Promise<void> {
    for (;;) {
      if (this.#stopped) return;
      const now = this.#clock.now();
      const next = [...this.#domains].filter(([, s]) => s.due <= now)
        .sort((a, b) => a[1].due - b[1].due)[0];
      if (!next) return;
      const [domain, state] = next;
      try {
        await this.#check(domain, state);
      } catch (err) {
        // #check handles CA errors; this is a bug or a disk error.
        this.#log.error(
          `Certificate check of ${domain} failed: ${(err as Error).message}`,
        );
        state.due = this.#clock.now() + RECHECK;
      }
    }
  }

  #arm(): void {
    if (!this.#started || this.#stopped) return;
    let next = Infinity;
    for (const s of this.#domains.values()) next = Math.min(next, s.due);
    if (next === Infinity) return;
    const delay = Math.max(0, Math.min(MAX_TIMER, next - this.#clock.now()));
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#kick();
    }, delay);
  }

  async #check(domain: string, state: DomainState): Promise<void> {
    const now = this.#clock.now();
    if (
      !this.#issuer || !isAcmeName(domain) || this.#store.hasManual(domain)
    ) {
      await this.#store.ensureSelfSigned(domain); // no-op when covered
      state.due = now + RECHECK;
      return;
    }
    const current = this.#store.acmeCert(domain);
    if (current) {
      const renewAt = await this.#renewAt(state, current.pair.cert, {
        notBefore: current.info.notBefore.getTime(),
        notAfter: current.info.notAfter.getTime(),
        serial: current.info.serial,
      });
      if (renewAt > now) {
        state.due = Math.min(renewAt, state.ariNext ?? Infinity);
        return;
      }
      this.#log.info(`Renewing the certificate of ${domain}`);
    } else {
      this.#log.info(`Requesting a certificate for ${domain}`);
    }
    try {
      const pair = await this.#issuer.issue(domain);
      const saved = await this.#store.saveAcme(domain, pair);
      this.#log.info(
        `Certificate for ${domain} stored, valid until ${saved.info.notAfter.toISOString()}`,
      );
      state.failures = 0;
      delete state.lastError;
      delete state.ari;
      delete state.ariNext;
      const after = this.#clock.now();
      const renewAt = await this.#renewAt(state, pair.cert, {
        notBefore: saved.info.notBefore.getTime(),
        notAfter: saved.info.notAfter.getTime(),
        serial: saved.info.serial,
      });
      // A certificate already due (very short-lived, or a skewed clock)
      // must not turn into a tight loop of orders.
      state.due = renewAt > after
        ? Math.min(renewAt, state.ariNext ?? Infinity)
        : after + RECHECK;
    } catch (err) {
      state.failures++;
      state.lastError = (err as Error).message;
      const delay = backoffDelay(state.failures, this.#backoff, this.#random);
      state.due = this.#clock.now() + delay;
      this.#log.warn(
        `${state.lastError}; ${
          current
            ? "the current certificate keeps serving"
            : "a self-signed certificate serves meanwhile"
        }; retry ${state.failures + 1} in ${Math.round(delay / 1000)}s`,
      );
    }
  }

  /** The renewal point, asking the CA's ARI when it is time to. */
  async #renewAt(
    state: DomainState,
    certPem: string,
    cert: { notBefore: number; notAfter: number; serial: string },
  ): Promise<number> {
    const now = this.#clock.now();
    let changed = state.serial !== cert.serial;
    if (changed) {
      delete state.ari;
      delete state.ariNext;
    }
    if (this.#issuer?.renewalWindow && (state.ariNext ?? 0) <= now) {
      try {
        const ari = await this.#issuer.renewalWindow(certPem);
        state.ariNext = now + (ari?.retryAfter ?? ARI_DEFAULT_RETRY);
        if (
          ari &&
          (ari.window.start !== state.ari?.start ||
            ari.window.end !== state.ari?.end)
        ) {
          state.ari = ari.window;
          changed = true;
        }
      } catch (err) {
        this.#log.debug(`ARI check failed: ${(err as Error).message}`);
        state.ariNext = now + ARI_DEFAULT_RETRY;
      }
    }
    if (changed || state.renewAt === undefined) {
      state.serial = cert.serial;
      state.renewAt = renewalTime(
        cert,
        this.#fraction,
        state.ari,
        this.#random,
      );
    }
    return state.renewAt;
  }
}

/**
 * Whether a CA can validate the name over HTTP-01: not localhost, not an IP
 * address, not a single label, not a wildcard (HTTP-01 cannot prove those).
 */
export function isAcmeName(domain: string): boolean {
  if (!domain.includes(".") || domain.startsWith("*.")) return false;
  if (domain === "localhost" || domain.endsWith(".localhost")) return false;
  return !/^[0-9.]+$/.test(domain);
}
