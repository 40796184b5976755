/**
 * @module
 * The push protocol's tokens (`"<unix time>-<8 random letters>"`, as MyPaas
 * makes them) and the canonical string that a signed request other than
 * push signs as `sig2`.
 */

const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** A fresh token for server time `serverTime` (seconds). */
export function makeToken(serverTime: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  let uid = "";
  for (const b of bytes) uid += LETTERS[b % LETTERS.length];
  return `${Math.floor(serverTime)}-${uid}`;
}

/** The time part of a token, or undefined when it has none. */
export function tokenTime(token: string): number | undefined {
  const m = /^(\d{1,12})-[A-Za-z0-9]{1,64}$/.exec(token);
  return m ? Number(m[1]) : undefined;
}

/**
 * What `sig2` signs for requests without an uploaded body:
 * `"<METHOD> <path>?<query without sig1/sig2, keys sorted>"`. It binds the
 * token (and so the time) to one operation on one service.
 */
export function canonicalRequest(
  method: string,
  path: string,
  params: URLSearchParams,
): string {
  const pairs = [...params].filter(([k]) => k !== "sig1" && k !== "sig2")
    .sort(([a, av], [b, bv]) => a < b ? -1 : a > b ? 1 : av < bv ? -1 : 1);
  const query = pairs.map(([k, v]) =>
    `${encodeURIComponent(k)}=${encodeURIComponent(v)}`
  ).join("&");
  return `${method.toUpperCase()} ${path}?${query}`;
}
