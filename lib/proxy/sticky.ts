/**
 * @module
 * `mypaas.sticky` cookies: the value is an HMAC of the service and target id
 * under a per-router secret, so clients can neither read container ids nor
 * forge a value that picks a replica of their choice.
 */
import { createHmac } from "node:crypto";

/** Signs target ids for one router; the secret never leaves the process. */
export class StickySigner {
  readonly #secret: Uint8Array;
  constructor(secret: Uint8Array = crypto.getRandomValues(new Uint8Array(32))) {
    this.#secret = secret;
  }

  /** The cookie value that names `targetId` of `service`. */
  sign(service: string, targetId: string): string {
    return createHmac("sha256", this.#secret)
      .update(`${service}\0${targetId}`)
      .digest("base64url")
      .slice(0, 27);
  }
}

/** The value of cookie `name` in a Cookie header, if present. */
export function readCookie(
  header: string | null,
  name: string,
): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** A Set-Cookie value for a sticky cookie. */
export function stickyCookie(
  name: string,
  value: string,
  opts: { maxAgeS?: number; secure: boolean },
): string {
  let cookie = `${name}=${value}; Path=/; HttpOnly; SameSite=Lax`;
  if (opts.maxAgeS !== undefined) cookie += `; Max-Age=${opts.maxAgeS}`;
  if (opts.secure) cookie += "; Secure";
  return cookie;
}
