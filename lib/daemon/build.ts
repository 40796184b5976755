/**
 * @module
 * Assembles the daemon's parts from the config. Each area adds its part here.
 */
import type { ResolvedConfig } from "../config/mod.ts";
import { createCertificates } from "../acme/mod.ts";
import { Daemon } from "./daemon.ts";
import { FunctionsPlatform } from "./functions.ts";

/** Builds (but does not start) the daemon for a config. */
export async function buildDaemon(config: ResolvedConfig): Promise<Daemon> {
  const daemon = new Daemon(config);
  // Certificates, added before the proxy so they start first: `certs.store`
  // is the proxy's CertSource, `certs.challenges.handle(req)` answers ACME
  // HTTP-01 on its plain-HTTP listener, and a DomainWatch feeds the routed
  // https hosts to `certs.manager.ensure()`.
  const certs = createCertificates(config, { log: daemon.log.child("tls") });
  daemon.add(certs.store);
  daemon.add(certs.manager);
  // Isolate functions; the proxy's Router joins via functions.attachRoutes().
  const denoPath = Deno.env.get("MYPAAS_DENO");
  daemon.add(
    new FunctionsPlatform(config, {
      log: daemon.log.child("functions"),
      pathEnv: Deno.env.get("PATH") ?? "",
      ...(denoPath ? { denoPath } : {}),
    }),
  );
  await Promise.resolve();
  return daemon;
}
