/**
 * @module
 * Fixtures of the deploy tests: a config in a temp dir, ServiceSpecs, a
 * TrafficControl that records upstreams, and a probe for the fake runtime.
 */
import { resolveConfig, type ResolvedConfig } from "../lib/config/mod.ts";
import type { FakeRuntime } from "../lib/docker/mod.ts";
import type { Prober, TrafficControl, Upstream } from "../lib/services/mod.ts";
import type { ServiceSpec } from "../lib/spec/types.ts";

/** A config whose data dir, socket and network are unique to the test. */
export function testConfig(
  dataDir: string,
  extra: { network?: string; volumeRoot?: string; drain?: string } = {},
): ResolvedConfig {
  const network = extra.network ??
    `mypaas-t-${crypto.randomUUID().slice(0, 8)}`;
  return resolveConfig(
    `[server]
data_dir = "${dataDir}"
control_socket = "${dataDir}/mypaas.sock"
http_port = 0
https_port = 0
keep_releases = 3
[docker]
network = "${network}"
volume_root = "${extra.volumeRoot ?? dataDir + "/volumes"}"
[proxy]
drain_timeout = "${extra.drain ?? "1s"}"
[env]
SECRET = "s3cret"
`,
    { home: "/root", file: "test-config.toml" },
  );
}

/** A ServiceSpec with defaults; `over` replaces fields. */
export function makeSpec(
  service: string,
  over: Partial<ServiceSpec> = {},
): ServiceSpec {
  return {
    kind: "service",
    service,
    file: "Dockerfile",
    urls: [],
    volumes: [],
    env: {},
    port: 80,
    publish: [],
    scale: { strategy: "recreate", replicas: 0 },
    ...over,
  };
}

/** A TrafficControl recording the upstreams of each service over time. */
export class RecordingTraffic implements TrafficControl {
  readonly upstreams = new Map<string, Map<string, Upstream>>();
  /** Smallest number of upstreams a service had after its first one. */
  readonly minAfterFirst = new Map<string, number>();
  readonly events: string[] = [];
  claimed = new Map<string, string>();

  checkUrls(service: string, urls: ServiceSpec["urls"]): void {
    for (const u of urls) {
      const owner = this.claimed.get(u.url);
      if (owner && owner !== service) {
        throw new Error(`url ${u.url} belongs to ${owner}`);
      }
    }
  }
  setService(spec: ServiceSpec): void {
    for (const u of spec.urls) this.claimed.set(u.url, spec.service);
    if (!this.upstreams.has(spec.service)) {
      this.upstreams.set(spec.service, new Map());
    }
    this.events.push(`set ${spec.service}`);
  }
  addUpstream(service: string, up: Upstream): void {
    this.#of(service).set(up.id, up);
    this.events.push(`add ${service} ${up.id.slice(0, 6)}`);
    this.#note(service);
  }
  drainUpstream(service: string, id: string): Promise<void> {
    const had = this.#of(service).delete(id);
    if (had) {
      this.events.push(`drain ${service} ${id.slice(0, 6)}`);
      this.#note(service);
    }
    return Promise.resolve();
  }
  removeService(service: string): void {
    this.upstreams.delete(service);
    this.events.push(`remove ${service}`);
  }
  #of(service: string) {
    let m = this.upstreams.get(service);
    if (!m) this.upstreams.set(service, m = new Map());
    return m;
  }
  #note(service: string) {
    const n = this.#of(service).size;
    const prev = this.minAfterFirst.get(service);
    if (prev === undefined) {
      if (n > 0) this.minAfterFirst.set(service, n);
    } else this.minAfterFirst.set(service, Math.min(prev, n));
  }
}

/**
 * A probe for the fake runtime: a container passes unless its env has
 * HEALTHY=no (or `healthy()` says otherwise).
 */
export function fakeProbe(
  fake: FakeRuntime,
  healthy: (env: Record<string, string>) => boolean = (env) =>
    env.HEALTHY !== "no",
): Prober {
  return (target) => {
    for (const c of fake.containers.values()) {
      if (c.running && Object.values(c.ips).includes(target.host)) {
        return Promise.resolve(healthy(c.env));
      }
    }
    return Promise.resolve(false);
  };
}

/** A directory with a Dockerfile (FROM the fake's base image). */
export async function appDir(lines: string[] = []): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-app-" });
  await Deno.writeTextFile(
    `${dir}/Dockerfile`,
    ["FROM mypaas-test/busybox:1", ...lines, ""].join("\n"),
  );
  return dir;
}
