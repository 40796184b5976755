/**
 * @module
 * Assembles the daemon's parts from the config. Each area adds its part here.
 */
import type { ResolvedConfig } from "../config/mod.ts";
import { createCertificates } from "../acme/mod.ts";
import { Daemon } from "./daemon.ts";
import { auditedPlatform } from "./audited_platform.ts";
import { AuditLog } from "../audit.ts";
import { dataPaths } from "../config/config.ts";
import { FunctionsPlatform } from "./functions.ts";
import { ContainerPlatform } from "./containers.ts";
import { readSpecForDeploy } from "./read_spec.ts";
import { ControlServer } from "../api/control.ts";
import { AdminApi } from "../api/admin_api.ts";
import { ProxyServer, Router } from "../proxy/mod.ts";
import { DomainWatch } from "../acme/mod.ts";
import { errorPage } from "../proxy/error_pages.ts";

const notFound = () => errorPage(404);

/** Builds (but does not start) the daemon for a config. */
export function buildDaemon(config: ResolvedConfig): Daemon {
  const daemon = new Daemon(config);
  // Certificates, added before the proxy so they start first: `certs.store`
  // is the proxy's CertSource, `certs.challenges.handle(req)` answers ACME
  // HTTP-01 on its plain-HTTP listener, and a DomainWatch feeds the routed
  // https hosts to `certs.manager.ensure()`.
  const certs = createCertificates(config, { log: daemon.log.child("tls") });
  daemon.add(certs.store);
  daemon.add(certs.manager);
  // The reverse proxy's Router, first: deploys drive it (TrafficControl),
  // functions add their handler backends, and the proxy serves it.
  const router = new Router();
  // Isolate functions, routed through the Router.
  const denoPath = Deno.env.get("MYPAAS_DENO");
  const functions = daemon.add(
    new FunctionsPlatform(config, {
      log: daemon.log.child("functions"),
      routes: router,
      pathEnv: Deno.env.get("PATH") ?? "",
      ...(denoPath ? { denoPath } : {}),
    }),
  );
  // Container services, and the composite Platform (functions delegated,
  // the side chosen by deploymentKind()); their traffic goes to the Router.
  const containers = daemon.add(
    new ContainerPlatform(config, {
      log: daemon.log.child("containers"),
      readSpec: readSpecForDeploy(config, Deno.env.get("HOME") ?? "/root"),
      traffic: router,
      functions,
    }),
  );
  // The signed HTTPS API (/daemon/* on the admin domain); the proxy's
  // Router serves it via router.setAdminHandler(admin.handler).
  const admin = daemon.add(
    new AdminApi(config, {
      platform: containers,
      functions,
      log: daemon.log.child("api"),
    }),
  );
  // The reverse proxy: the Router, served on the HTTP/HTTPS listeners.
  router.setAdminHandler(admin.handler);
  router.setDeployIdHandler((req, info) =>
    functions.handleDeployId(req, info) ?? Promise.resolve(notFound())
  );
  router.setChallengeHandler((req) =>
    Promise.resolve(
      certs.challenges.handle(req) ?? new Response(null, { status: 404 }),
    )
  );
  daemon.add(
    new ProxyServer({
      router,
      config,
      certs: certs.store,
      log: daemon.log.child("proxy"),
    }),
  );
  daemon.add(
    new DomainWatch({
      source: () => router.httpsHosts(),
      sink: certs.manager,
      always: [config.server.domain],
      log: daemon.log.child("tls"),
    }),
  );
  // The local control socket, last: it serves once everything runs.
  daemon.add(
    new ControlServer(
      config.server.controlSocket,
      auditedPlatform(containers, new AuditLog(dataPaths(config).audit)),
      daemon.log.child("control"),
    ),
  );
  return daemon;
}
