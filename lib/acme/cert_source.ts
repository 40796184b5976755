/**
 * @module
 * The port between certificate management and the TLS listener: the proxy
 * asks a CertSource for the certificate of an SNI name and re-reads when told
 * that certificates changed.
 */

/** A PEM certificate chain (leaf first) and its PEM private key. */
export interface CertPair {
  cert: string;
  key: string;
}

/** Where the TLS listener gets certificates from, by SNI hostname. */
export interface CertSource {
  /** The certificate for a hostname (exact name first, then `*.parent`). */
  get(hostname: string): CertPair | undefined;
  /** Calls `cb` after any certificate was added or replaced; returns unsubscribe. */
  onChange(cb: () => void): () => void;
}

/**
 * The names a certificate may be stored under that serve `hostname`, best
 * first: the exact name, then the one-label wildcard (`*.example.com` serves
 * `a.example.com`, not `example.com` nor `a.b.example.com`).
 */
export function hostnameCandidates(hostname: string): string[] {
  const name = normalizeHostname(hostname);
  const dot = name.indexOf(".");
  if (dot <= 0 || dot === name.length - 1) return [name];
  return [name, `*${name.slice(dot)}`];
}

/** Lower case, no trailing dot, no port. */
export function normalizeHostname(hostname: string): string {
  let name = hostname.trim().toLowerCase();
  if (name.startsWith("[")) return name; // IPv6 literal: leave alone
  const colon = name.lastIndexOf(":");
  if (colon >= 0) name = name.slice(0, colon);
  return name.endsWith(".") ? name.slice(0, -1) : name;
}
