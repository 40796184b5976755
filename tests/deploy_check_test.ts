/**
 * `Platform.check` on the container side (issue 11.11, 11.17): refusals
 * before any build, on a fake Docker engine: `publish` of the daemon's own
 * ports or of a port another service publishes (the same service may keep
 * its own), and a publish scale that cannot hold the port.
 */
import { ContainerPlatform } from "../lib/daemon/containers.ts";
import { InputError } from "../lib/errors.ts";
import { FakeRuntime } from "../lib/docker/mod.ts";
import { makeLogger } from "../lib/log.ts";
import type { ServiceSpec } from "../lib/spec/types.ts";
import { assert, assertEquals } from "./_docker_contract.ts";
import { appDir, fakeProbe, makeSpec, testConfig } from "./_deploy_fixture.ts";

async function refused(p: Promise<unknown>): Promise<InputError> {
  try {
    await p;
  } catch (err) {
    assert(err instanceof InputError, String(err));
    return err as InputError;
  }
  throw new Error("expected a refusal");
}

Deno.test("check refuses publish of the daemon's ports or another service's, before any build", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "mypaas-check-" });
  const runtime = new FakeRuntime();
  runtime.addImage("mypaas-test/busybox:1");
  const config = testConfig(dataDir);
  config.server.httpPort = 18080;
  config.server.httpsPort = 18443;
  let spec: ServiceSpec = makeSpec("web");
  const platform = new ContainerPlatform(config, {
    log: makeLogger("t", "error", () => {}),
    runtime,
    probe: fakeProbe(runtime),
    readyTimeoutMs: 300,
    readSpec: () => Promise.resolve(spec),
  });
  await platform.start();
  const dir = await appDir();
  const pub = (hostPort: number, protocol: "tcp" | "udp" = "tcp") => ({
    hostPort,
    containerPort: 80,
    protocol,
  });
  try {
    spec = makeSpec("dns", { publish: [pub(18443)] });
    let err = await refused(platform.check(dir, {}));
    assertEquals(err.status, 409);
    assert(err.message.includes("[server] https_port"), err.message);
    spec = makeSpec("dns", { publish: [pub(18080)] });
    assert((await refused(platform.check(dir, {}))).message.includes(
      "http_port",
    ));
    assertEquals(runtime.builds, []);

    spec = makeSpec("dns", { publish: [pub(5353, "udp")] });
    const first = await (await platform.check(dir, {})).run(() => {});
    assert(first.ok, first.error);
    // another service may not take the port; the same one may redeploy
    spec = makeSpec("other", { publish: [pub(5353, "udp")] });
    err = await refused(platform.check(dir, {}));
    assertEquals(err.status, 409);
    assert(err.message.includes('which service "dns" publishes'), err.message);
    spec = makeSpec("other", { publish: [pub(5353, "tcp")] });
    await platform.check(dir, {});
    spec = makeSpec("dns", { publish: [pub(5353, "udp")] });
    await platform.check(dir, {});
  } finally {
    await platform.stop();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(dataDir, { recursive: true });
  }
});
