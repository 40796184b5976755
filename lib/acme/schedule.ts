/**
 * @module
 * When to try again: the renewal point of a certificate (a fraction of its
 * lifetime left, or earlier inside the CA's ARI window) and the exponential
 * backoff while the CA fails. Pure functions of time, so tests need no clock.
 */
import { backoffDelay as sharedBackoffDelay } from "../backoff.ts";

/** Backoff settings; the defaults suit Let's Encrypt's failure limits. */
export interface BackoffOptions {
  /** Delay after the first failure (ms). */
  base?: number;
  /** Longest delay (ms). */
  max?: number;
  /** Random spread, as a fraction of the delay (0.1 = +-10%). */
  jitter?: number;
}

/** Default first retry: one minute. */
export const BACKOFF_BASE = 60_000;
/** Default longest retry: six hours. */
export const BACKOFF_MAX = 6 * 3_600_000;

/**
 * The wait after `failures` consecutive failures (1 = first failure):
 * lib/backoff.ts's `backoffDelay` with the CA-friendly defaults above.
 */
export function backoffDelay(
  failures: number,
  opts: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  return sharedBackoffDelay(failures, {
    baseMs: opts.base ?? BACKOFF_BASE,
    maxMs: opts.max ?? BACKOFF_MAX,
    jitter: opts.jitter ?? 0.1,
  }, random);
}

/** A certificate's validity, as epoch milliseconds. */
export interface Validity {
  notBefore: number;
  notAfter: number;
}

/** The ARI suggested renewal window, as epoch milliseconds. */
export interface RenewalWindow {
  start: number;
  end: number;
}

/**
 * When to renew: once `fraction` of the lifetime is left, or at a random
 * point inside the ARI window when the CA suggests one that begins earlier
 * (RFC 9773 section 4.2: pick uniformly within the window).
 */
export function renewalTime(
  validity: Validity,
  fraction: number,
  window?: RenewalWindow,
  random: () => number = Math.random,
): number {
  const lifetime = validity.notAfter - validity.notBefore;
  const byFraction = validity.notAfter - lifetime * fraction;
  if (!window || window.end < window.start) return byFraction;
  const inWindow = window.start + (window.end - window.start) * random();
  return Math.min(byFraction, inWindow);
}
