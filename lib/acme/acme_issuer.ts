/**
 * @module
 * Obtains certificates from an ACME CA with HTTP-01 through acme-client:
 * EC P-256 keys, an account key kept at `<data_dir>/acme/account.key`, and
 * the CA's ARI renewal window (RFC 9773) when its directory offers
 * `renewalInfo` (acme-client 5.4 has no ARI, so it is fetched here).
 *
 * acme-client talks through one shared axios instance, so a `caFile` (an
 * extra CA for the ACME server, e.g. pebble's) is installed process-wide on
 * that instance as an https.Agent trusting the system roots plus that CA.
 * acme-client types stay in this file.
 */
import * as acme from "acme-client";
import https from "node:https";
import tls from "node:tls";
import type { CertPair } from "./cert_source.ts";
import type { ChallengeResponder } from "./challenge.ts";
import { ariCertId } from "./cert_info.ts";
import type { RenewalWindow } from "./schedule.ts";
import type { Logger } from "../log.ts";
import { silentLogger } from "../log.ts";

/** What the AcmeManager needs from a CA; faked in unit tests. */
export interface Issuer {
  /** Orders, validates and downloads a certificate for one domain. */
  issue(domain: string): Promise<CertPair>;
  /** The CA's suggested renewal window, or undefined when it has no ARI. */
  renewalWindow?(
    certPem: string,
  ): Promise<{ window: RenewalWindow; retryAfter: number } | undefined>;
  /** Releases connections; the issuer stays usable. */
  close?(): void;
}

/** Options of the real ACME issuer. */
export interface AcmeIssuerOptions {
  directory: string;
  email: string;
  /** Where the account key is kept (created 0600 when missing). */
  accountKeyFile: string;
  /** PEM file of an extra CA to trust for the ACME server; "" for none. */
  caFile?: string;
  /** Where HTTP-01 key authorizations are published for the proxy. */
  challenges: ChallengeResponder;
  log?: Logger;
  /** Polling of order/challenge status (ms); acme-client's default is 5000. */
  pollMin?: number;
  /** Longest one order may take before it counts as failed (ms). */
  orderTimeout?: number;
}

/** Default wait before asking for ARI again when the CA gives no Retry-After. */
export const ARI_DEFAULT_RETRY = 6 * 3_600_000;

/** An ACME CA reached through acme-client. */
export class AcmeIssuer implements Issuer {
  readonly #opts: AcmeIssuerOptions;
  readonly #log: Logger;
  #client: Promise<acme.Client> | undefined;
  #fetchClient: Deno.HttpClient | undefined;
  #directory: Promise<Record<string, unknown>> | undefined;

  constructor(opts: AcmeIssuerOptions) {
    this.#opts = opts;
    this.#log = opts.log ?? silentLogger;
  }

  async issue(domain: string): Promise<CertPair> {
    const client = await this.#getClient();
    const key = await acme.crypto.createPrivateEcdsaKey("P-256");
    const [, csr] = await acme.crypto.createCsr({ altNames: [domain] }, key);
    const challenges = this.#opts.challenges;
    const limit = this.#opts.orderTimeout ?? 600_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${limit / 1000}s`)),
        limit,
      );
    });
    try {
      const order = client.auto({
        csr,
        email: this.#opts.email,
        termsOfServiceAgreed: true,
        challengePriority: ["http-01"],
        // The CA reaches us through the proxy; a self-check from inside the
        // daemon would need the public DNS and port 80 to loop back.
        skipChallengeVerification: true,
        challengeCreateFn: (_authz, challenge, keyAuthorization) => {
          challenges.set(challenge.token, keyAuthorization);
          return Promise.resolve();
        },
        challengeRemoveFn: (_authz, challenge) => {
          challenges.delete(challenge.token);
          return Promise.resolve();
        },
      });
      order.catch(() => {}); // may settle after the deadline
      const cert = await Promise.race([order, deadline]);
      return { cert, key: key.toString() };
    } catch (err) {
      throw new Error(
        `ACME order for "${domain}" at ${this.#opts.directory} failed: ${
          (err as Error).message
        }`,
        { cause: err },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  async renewalWindow(
    certPem: string,
  ): Promise<{ window: RenewalWindow; retryAfter: number } | undefined> {
    const dir = await this.#getDirectory();
    const base = dir.renewalInfo;
    const id = ariCertId(certPem);
    if (typeof base !== "string" || !id) return undefined;
    const res = await fetch(`${base.replace(/\/$/, "")}/${id}`, {
      client: this.#httpClient(),
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`ARI request to ${base} answered ${res.status}`);
    }
    return parseRenewalInfo(await res.json(), res.headers.get("retry-after"));
  }

  #getClient(): Promise<acme.Client> {
    this.#client ??= this.#makeClient();
    this.#client.catch(() => this.#client = undefined);
    return this.#client;
  }

  async #makeClient(): Promise<acme.Client> {
    const { caFile } = this.#opts;
    if (caFile) {
      const ca = await Deno.readTextFile(caFile);
      acme.axios.defaults.httpsAgent = new https.Agent({
        ca: [...tls.rootCertificates, ca],
      });
    }
    // acme-client sets no request timeout; a silent CA would stall renewals.
    acme.axios.defaults.timeout = 30_000;
    const accountKey = await loadOrCreateKey(this.#opts.accountKeyFile);
    return new acme.Client({
      directoryUrl: this.#opts.directory,
      accountKey,
      backoffMin: this.#opts.pollMin ?? 1_000,
      backoffMax: 10_000,
    });
  }

  #httpClient(): Deno.HttpClient | undefined {
    if (!this.#opts.caFile) return undefined;
    this.#fetchClient ??= Deno.createHttpClient({
      caCerts: [Deno.readTextFileSync(this.#opts.caFile)],
    });
    return this.#fetchClient;
  }

  #getDirectory(): Promise<Record<string, unknown>> {
    this.#directory ??= (async () => {
      const res = await fetch(this.#opts.directory, {
        client: this.#httpClient(),
        signal: AbortSignal.timeout(30_000),
      });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(
          `ACME directory ${this.#opts.directory} answered ${res.status}`,
        );
      }
      return await res.json() as Record<string, unknown>;
    })();
    this.#directory.catch(() => this.#directory = undefined);
    return this.#directory;
  }

  /** Releases the HTTP client; the issuer may still be used afterwards. */
  close(): void {
    this.#fetchClient?.close();
    this.#fetchClient = undefined;
  }
}

/** Parses an ARI response body and its Retry-After header (seconds). */
export function parseRenewalInfo(
  body: unknown,
  retryAfterHeader: string | null,
): { window: RenewalWindow; retryAfter: number } | undefined {
  const w = (body as { suggestedWindow?: { start?: string; end?: string } })
    ?.suggestedWindow;
  const start = Date.parse(w?.start ?? "");
  const end = Date.parse(w?.end ?? "");
  if (!Number.isFinite(start) || !Number.isFinite(end)) return undefined;
  const secs = Number(retryAfterHeader);
  const retryAfter = retryAfterHeader && Number.isFinite(secs) && secs > 0
    ? Math.min(secs * 1000, 24 * 3_600_000)
    : ARI_DEFAULT_RETRY;
  return { window: { start, end }, retryAfter };
}

/** Reads a PEM key, or creates an EC P-256 one with mode 0600 (dir 0700). */
async function loadOrCreateKey(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const dir = path.slice(0, path.lastIndexOf("/"));
  if (dir) {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await Deno.chmod(dir, 0o700);
  }
  const key = (await acme.crypto.createPrivateEcdsaKey("P-256")).toString();
  await Deno.writeTextFile(path, key, { mode: 0o600, createNew: true });
  await Deno.chmod(path, 0o600);
  return key;
}
