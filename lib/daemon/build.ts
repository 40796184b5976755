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

import { makeLogger } from "../log.ts";
import { MetricsRegistry } from "../metrics/registry.ts";
import { MetricsStore } from "../metrics/store.ts";
import { MetricsSampler } from "../metrics/sampler.ts";
import { hostSource } from "../metrics/host_sample.ts";
import { PROMETHEUS_TYPE, renderPrometheus } from "../metrics/prometheus.ts";
import { TelemetryPart } from "../telemetry/telemetry_part.ts";
import type { RequestObserve } from "../proxy/proxy_handler.ts";
import { containerSource } from "./container_stats.ts";
import { ContainerLogs } from "./container_logs.ts";

const notFound = () => errorPage(404);

/** The parts of observability, for tests and the dashboard. */
export interface Observability {
  metrics: MetricsRegistry;
  history: MetricsStore;
  sampler: MetricsSampler;
  telemetry: TelemetryPart;
}

/** Builds (but does not start) the daemon for a config. */
export function buildDaemon(config: ResolvedConfig): Daemon {
  return buildObservedDaemon(config).daemon;
}

/** Builds the daemon and hands out its metrics and telemetry parts. */
export function buildObservedDaemon(
  config: ResolvedConfig,
): { daemon: Daemon; observability: Observability } {
  // The daemon's warnings and errors also go out as OTLP log records once
  // telemetry runs (`telemetry` is set below, before anything logs).
  const stderr = (line: string) =>
    Deno.stderr.writeSync(new TextEncoder().encode(line + "\n"));
  const late: { telemetry?: TelemetryPart } = {};
  const daemon = new Daemon(
    config,
    makeLogger("daemon", "info", (line) => {
      stderr(line);
      late.telemetry?.daemonLine(line);
    }),
  );
  // Metrics: the proxy and the pool bump the registry; the sampler records
  // a step every 10 s into the on-disk store (the dashboard's history).
  const metrics = new MetricsRegistry();
  const observe: RequestObserve = { metrics };
  const tel = late.telemetry = new TelemetryPart(config, {
    observe,
    log: daemon.log.child("telemetry"),
  });
  daemon.add(tel);
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
      onLog: (l) => {
        const [name, release] = l.deployment.split("@");
        tel.log({
          time: l.time,
          level: l.level === "error" || l.level === "warn" ||
              l.level === "debug"
            ? l.level
            : "info",
          body: l.msg,
          attrs: {
            "mypaas.function": name ?? l.deployment,
            "mypaas.release": release ?? "",
            "service.instance.id": l.isolate,
          },
        });
      },
      poolEvents: {
        coldStart: (key, loaded) => {
          metrics.coldStart(`function:${key.split("@")[0]}`);
          tel.coldStart(key, loaded);
        },
        booted: (id, ms, error) => tel.booted(id, ms, error),
      },
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
      onPhase: (service, phase) => tel.phase(service, phase),
    }),
  );
  const runtime = containers.deployer.ctx.runtime;
  const history = new MetricsStore(dataPaths(config).metrics);
  const sampler = daemon.add(
    new MetricsSampler({
      registry: metrics,
      store: history,
      containers: containerSource(runtime, config.docker.network),
      host: hostSource(config.server.dataDir),
      log: daemon.log.child("metrics"),
    }),
  );
  daemon.add(
    new ContainerLogs({
      runtime,
      owner: config.docker.network,
      sink: () => tel.telemetry ? (r) => tel.log(r) : undefined,
      log: daemon.log.child("container-logs"),
    }),
  );
  // The signed HTTPS API (/daemon/* on the admin domain); the proxy's
  // Router serves it via router.setAdminHandler(admin.handler).
  const admin = daemon.add(
    new AdminApi(config, {
      platform: containers,
      functions,
      log: daemon.log.child("api"),
      metrics: () => ({
        type: PROMETHEUS_TYPE,
        body: renderPrometheus({
          registry: metrics,
          containers: () => sampler.containers,
          host: () => sampler.host,
          dropped: () => tel.dropped(),
        }),
      }),
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
      observe,
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
  return {
    daemon,
    observability: { metrics, history, sampler, telemetry: tel },
  };
}
