/**
 * @module
 * Request authentication of the push protocol (MyPaas's, unchanged):
 * `id` = key fingerprint, `token` = `"<server time>-<8 letters>"` valid for
 * 5 s and only once, `sig1` = signature of the token, `sig2` = signature of
 * the uploaded body, or for other operations of `canonicalRequest()`.
 */
import { InputError } from "../errors.ts";
import {
  canonicalRequest,
  type KeyLookup,
  type PublicKey,
  tokenTime,
} from "../keys/mod.ts";
import { ReplayCache } from "./replay_cache.ts";

/** How long a token is valid, in seconds (MyPaas: 5). */
export const TOKEN_SECONDS = 5;

/** A refused request: 403 like MyPaas, with the reason. */
export class AuthError extends InputError {
  override name = "AuthError";
  constructor(reason: string) {
    super(`Access denied: ${reason}`, { status: 403 });
  }
}

/** Who a request was authenticated as. */
export interface Caller {
  fingerprint: string;
  key: PublicKey;
}

/** Checks tokens and signatures against the authorized keys. */
export class Authenticator {
  readonly #replays = new ReplayCache((TOKEN_SECONDS + 5) * 1000);

  constructor(
    readonly keys: KeyLookup,
    /** Milliseconds since the epoch. */
    readonly clock: () => number,
  ) {}

  /** Verifies id, token, time window, sig1 and that the token is fresh. */
  async caller(params: URLSearchParams): Promise<Caller> {
    const fingerprint = params.get("id") ?? "";
    const token = params.get("token") ?? "";
    const sig1 = params.get("sig1") ?? "";
    if (!fingerprint || !token || !sig1) {
      throw new AuthError(
        'id, token and sig1 are required (sign requests with "mypaas push")',
      );
    }
    const t = tokenTime(token);
    const now = Math.floor(this.clock() / 1000);
    if (t === undefined) throw new AuthError("malformed token");
    if (!(now - TOKEN_SECONDS <= t && t <= now)) {
      throw new AuthError(
        `token expired (tokens are valid for ${TOKEN_SECONDS} s)`,
      );
    }
    const candidates = await this.keys.find(fingerprint);
    if (!candidates.length) {
      throw new AuthError(
        `unknown key "${fingerprint}" (add it to authorized_keys)`,
      );
    }
    // Fingerprints are short and can collide: the caller is the key whose
    // signature verifies, and sig2 is checked against that same key.
    const signed = new TextEncoder().encode(token);
    let key: PublicKey | undefined;
    for (const k of candidates) {
      if (await k.verify(sig1, signed)) {
        key = k;
        break;
      }
    }
    if (!key) throw new AuthError("token signature does not verify");
    if (!this.#replays.use(token, this.clock())) {
      throw new AuthError("token already used");
    }
    return { fingerprint, key };
  }

  /** Verifies sig2 over an uploaded body. */
  async checkBody(
    caller: Caller,
    params: URLSearchParams,
    body: Uint8Array,
  ): Promise<void> {
    const sig2 = params.get("sig2") ?? "";
    if (!sig2 || !(await caller.key.verify(sig2, body))) {
      throw new AuthError("payload signature does not verify");
    }
  }

  /** Verifies sig2 over the canonical form of a request without body. */
  async checkRequest(caller: Caller, method: string, url: URL): Promise<void> {
    const data = new TextEncoder().encode(
      canonicalRequest(method, url.pathname, url.searchParams),
    );
    const sig2 = url.searchParams.get("sig2") ?? "";
    if (!sig2 || !(await caller.key.verify(sig2, data))) {
      throw new AuthError("request signature does not verify");
    }
  }
}
