/**
 * @module
 * Builds certificate management from the resolved config: the store (the
 * proxy's CertSource), the HTTP-01 challenge responder (for the proxy's
 * plain-HTTP listener) and the manager (the daemon's `ensure(domains)`).
 * ACME is off when `[acme] email` is empty: domains get self-signed
 * certificates only.
 */
import { dataPaths, type ResolvedConfig } from "../config/mod.ts";
import type { Logger } from "../log.ts";
import { silentLogger } from "../log.ts";
import { AcmeIssuer } from "./acme_issuer.ts";
import { AcmeManager } from "./acme_manager.ts";
import { CertStore } from "./cert_store.ts";
import { ChallengeResponder } from "./challenge.ts";
import type { Clock } from "./clock.ts";

/** The parts of certificate management, wired together. */
export interface Certificates {
  /** Start before the proxy: it loads the certificates the proxy serves. */
  store: CertStore;
  /** Start after the store; call `ensure(domains)` when routes change. */
  manager: AcmeManager;
  challenges: ChallengeResponder;
}

/** Creates (does not start) the certificate parts for a config. */
export function createCertificates(
  config: ResolvedConfig,
  opts: { log?: Logger; clock?: Clock } = {},
): Certificates {
  const log = opts.log ?? silentLogger;
  const paths = dataPaths(config);
  const store = new CertStore({
    dir: paths.certs,
    log: log.child("certs"),
    defaultName: config.server.domain,
  });
  const challenges = new ChallengeResponder();
  const issuer = config.acme.email
    ? new AcmeIssuer({
      directory: config.acme.directory,
      email: config.acme.email,
      accountKeyFile: `${paths.acme}/account.key`,
      caFile: config.acme.caFile,
      challenges,
      log: log.child("acme"),
    })
    : undefined;
  if (!issuer) {
    log.info(
      "ACME is off ([acme] email is empty): self-signed certificates only",
    );
  }
  const manager = new AcmeManager({
    store,
    ...(issuer ? { issuer } : {}),
    renewFraction: config.acme.renewFraction,
    log: log.child("acme"),
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  return { store, manager, challenges };
}
