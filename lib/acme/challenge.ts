/**
 * @module
 * HTTP-01 challenge responses: the ACME issuer publishes key authorizations
 * here and the proxy's plain-HTTP listener asks `handle()` before routing.
 */

const PREFIX = "/.well-known/acme-challenge/";

/** The token -> key authorization table the CA validates against. */
export class ChallengeResponder {
  readonly #tokens = new Map<string, string>();

  /** Publishes a key authorization for a token. */
  set(token: string, keyAuthorization: string): void {
    this.#tokens.set(token, keyAuthorization);
  }

  /** Withdraws a token. */
  delete(token: string): void {
    this.#tokens.delete(token);
  }

  /** How many tokens are published (tests, status). */
  get size(): number {
    return this.#tokens.size;
  }

  /**
   * The response for `/.well-known/acme-challenge/<token>` (200 with the key
   * authorization, or 404 for an unknown token); undefined for any other
   * path, so the caller routes the request as usual.
   */
  handle(req: Request): Response | undefined {
    const path = new URL(req.url).pathname;
    if (!path.startsWith(PREFIX)) return undefined;
    const token = path.slice(PREFIX.length);
    const keyAuthorization = this.#tokens.get(token);
    if (
      keyAuthorization === undefined ||
      req.method !== "GET" && req.method !== "HEAD"
    ) {
      return new Response("Not found\n", {
        status: 404,
        headers: { "content-type": "text/plain" },
      });
    }
    return new Response(keyAuthorization, {
      headers: { "content-type": "text/plain" },
    });
  }
}
