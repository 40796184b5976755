/**
 * The push client as a process (`main.ts push|status`) against the API on a
 * real TLS listener (loopback, port 0, a test CA) with a fake platform: exit
 * codes 0 / 1 / 2, --ca, and the failing build lines on a failed deploy.
 */
import { InputError } from "../lib/errors.ts";
import { PrivateKey, writeKeyFile } from "../lib/keys/mod.ts";
import { makeApi, makeTestCa, serveTls } from "./_api_helpers.ts";
import { assertEquals, assertStringIncludes } from "./_push_assert.ts";
import { runMain } from "./_run_main.ts";

Deno.test("mypaas push over TLS: exit 0 on success, 1 with the build lines on failure, 2 on bad input", async () => {
  const key = await PrivateKey.generate();
  await using api = await makeApi([key]);
  const dir = api.dataDir;
  await makeTestCa(dir);
  const home = `${dir}/home`;
  await writeKeyFile(`${home}/.ssh/mypaas_key`, await key.toPem());
  const tick = setInterval(() => api.clock.now = Date.now(), 50);
  api.clock.now = Date.now();
  const server = await serveTls(dir, (req) => api.app.fetch(req));
  const url = `https://localhost:${server.addr.port}`;
  const app = `${dir}/my site`;
  await Deno.mkdir(app);
  await Deno.writeTextFile(`${app}/Dockerfile`, "FROM busybox\n");
  const cli = (args: string[], h = home) => runMain(args, { HOME: h });
  const ca = ["--ca", `${dir}/ca.pem`];
  try {
    let r = await cli(["push", url, app, ...ca, "--domain", "fn.test"]);
    assertEquals(r.code, 0, r.stdout + r.stderr);
    assertStringIncludes(r.stdout, "Step 1/2 : FROM busybox");
    assertStringIncludes(r.stdout, "Deploy ok (release 3)");
    assertEquals(api.platform.deploys[0]!.opts.domains, ["fn.test"]);
    assertEquals(api.platform.deploys[0]!.files, ["Dockerfile"]);
    assertEquals(api.platform.deploys[0]!.name, "my-site");

    api.platform.progressLines = [
      "Step 2/2 : RUN make",
      "make: *** [all] Error 2",
    ];
    api.platform.result = {
      ok: false,
      service: "web",
      kind: "service",
      release: 3,
      error: "build failed",
    };
    r = await cli(["push", url, app, ...ca]);
    assertEquals(r.code, 1, r.stdout + r.stderr);
    assertStringIncludes(r.stdout, "make: *** [all] Error 2");
    assertStringIncludes(r.stderr, "Deploy failed: build failed");

    api.platform.result = new InputError(
      "Dockerfile:2: mypaas.port must be a number",
    );
    r = await cli(["push", url, app, ...ca]);
    assertEquals(r.code, 2, r.stdout + r.stderr);
    assertStringIncludes(r.stderr, "mypaas.port");

    r = await cli(["push", url, `${dir}/missing`, ...ca]);
    assertEquals(r.code, 2);
    assertStringIncludes(r.stderr, "does not exist");

    const stranger = `${dir}/stranger`;
    await writeKeyFile(
      `${stranger}/.ssh/mypaas_key`,
      await (await PrivateKey.generate("rsa")).toPem(),
    );
    r = await cli(["push", url, app, ...ca], stranger);
    assertEquals(r.code, 2, r.stderr);
    assertStringIncludes(r.stderr, "HTTP 403");

    r = await cli(["push", url, app]);
    assertEquals(r.code, 1);
    assertStringIncludes(r.stderr, "UnknownIssuer");

    r = await cli(["rollback", url, "web", "2", ...ca]);
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stdout, "rolling back web");
    assertStringIncludes(r.stdout, "Rollback ok (release 2)");
    r = await cli(["remove", url, "web", ...ca]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(api.platform.removed, ["web"]);

    r = await cli(["status", url, ...ca]);
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stdout, "No services deployed.");
  } finally {
    clearInterval(tick);
    await server.shutdown();
  }
});
