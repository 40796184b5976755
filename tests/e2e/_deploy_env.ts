/**
 * @module
 * A Deployer on the real Docker engine for one e2e test: its own data dir,
 * network and service name; `dispose` removes everything it made.
 */
import { Deployer, netProbe } from "../../lib/services/mod.ts";
import { DockerRuntime } from "../../lib/docker/mod.ts";
import { silentLogger } from "../../lib/log.ts";
import type { ServiceSpec } from "../../lib/spec/types.ts";
import { makeSpec, RecordingTraffic, testConfig } from "../_deploy_fixture.ts";
import {
  docker,
  ensureBusyboxImage,
  type HttpdApp,
  removeByLabel,
  removeImages,
  uniqueName,
  writeHttpdApp,
} from "./_images.ts";

/** One isolated deploy environment on the real engine. */
export async function deployEnv(readyTimeoutMs = 5000) {
  await ensureBusyboxImage();
  const dataDir = await Deno.makeTempDir({ prefix: "mypaas-e2e-" });
  const volumeRoot = await Deno.makeTempDir({ prefix: "mypaas-e2e-vol-" });
  const network = uniqueName("mypaas-e2e");
  const config = testConfig(dataDir, {
    network,
    volumeRoot,
    drain: "300ms",
  });
  const service = uniqueName("svc");
  const traffic = new RecordingTraffic();
  const deployer = new Deployer({
    runtime: new DockerRuntime(),
    config,
    traffic,
    probe: netProbe,
    log: silentLogger,
    owner: network,
    readyTimeoutMs,
  });
  const app = await Deno.makeTempDir({ prefix: "mypaas-e2e-app-" });
  return {
    dataDir,
    volumeRoot,
    network,
    config,
    service,
    traffic,
    deployer,
    app,
    spec(over: Partial<ServiceSpec> = {}): ServiceSpec {
      return makeSpec(service, {
        healthcheck: { path: "/health", intervalMs: 200, timeoutMs: 1000 },
        ...over,
      });
    },
    /** Rewrites the app directory (body, health file). */
    write(a: HttpdApp) {
      return writeHttpdApp(app, a);
    },
    /** IPs of the service's running containers on the network. */
    async ips(): Promise<string[]> {
      const out = await docker([
        "ps",
        "-q",
        "--filter",
        `label=mypaas.service=${service}`,
        "--filter",
        `label=mypaas.owner=${network}`,
      ]);
      const ids = out.stdout.split("\n").filter(Boolean);
      if (!ids.length) return [];
      const ins = await docker([
        "inspect",
        "-f",
        `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`,
        ...ids,
      ], { allowFail: true });
      return ins.stdout.split("\n").map((s) => s.trim()).filter(Boolean);
    },
    async [Symbol.asyncDispose]() {
      await removeByLabel(`mypaas.owner=${network}`);
      await removeImages(`mypaas/${service}`);
      await docker(["network", "rm", network], { allowFail: true });
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      await Deno.remove(app, { recursive: true }).catch(() => {});
      await Deno.remove(volumeRoot, { recursive: true }).catch(() => {});
    },
  };
}
