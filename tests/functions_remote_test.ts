/**
 * A function with a remote (https) import: `deno bundle` fetches it at
 * deploy time from a loopback HTTPS server (opened by `allow_net`, as the
 * sandboxed bundler denies loopback otherwise) whose CA only `DENO_CERT` in the
 * daemon's environment makes trusted, and inlines it into one artifact; the
 * deployed function answers with the remote module's value while its
 * isolate may import nothing at run time. A real daemon process (the
 * bundler inherits its environment).
 */
import { ControlClient } from "../lib/api/control_client.ts";
import { ReleaseStore } from "../lib/functions/releases.ts";
import { makeTestCa, serveTls } from "./_api_helpers.ts";
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { DaemonProcess, freePort } from "./e2e/_daemon.ts";
import { getWithHost } from "./e2e/_images.ts";

const MARK = `remote-${crypto.randomUUID().slice(0, 8)}`;

Deno.test("a function's https import is bundled at deploy into one artifact; the isolate imports nothing at run time", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-remote-" });
  await Deno.mkdir(`${dir}/ca`);
  await Deno.mkdir(`${dir}/app`);
  await makeTestCa(`${dir}/ca`);
  const hits: string[] = [];
  const server = await serveTls(`${dir}/ca`, (req) => {
    const path = new URL(req.url).pathname;
    hits.push(path);
    return path === "/mod.ts" || path === "/late.ts"
      ? new Response(`export const remote = () => "${MARK}";\n`, {
        headers: { "content-type": "application/typescript" },
      })
      : new Response("not found", { status: 404 });
  });
  const origin = `https://127.0.0.1:${server.addr.port}`;
  // Without the CA the remote module is not trusted: the CA is what the
  // daemon's DENO_CERT adds, not something the bundler ignores.
  const untrusted = await fetch(`${origin}/mod.ts`).then(
    () => "fetched",
    (err: Error) => String(err.cause ?? err.message),
  );
  assertStringIncludes(untrusted, "UnknownIssuer");

  await Deno.writeTextFile(
    `${dir}/app/main.ts`,
    `// mypaas.service=remote
// mypaas.url=http://remote.fn.test/
import { remote } from "${origin}/mod.ts";

export default {
  async fetch(req: Request) {
    if (new URL(req.url).pathname === "/import") {
      // Not resolvable by the bundler: tried by the isolate at run time.
      const late = ["${origin}", "late.ts"].join("/");
      try {
        await import(late);
        return new Response("IMPORTED at run time");
      } catch (err) {
        return new Response("refused " + (err as Error).message, { status: 403 });
      }
    }
    return new Response("value " + remote());
  },
};
`,
  );
  const port = freePort();
  const socket = `${dir}/ctl.sock`;
  await Deno.writeTextFile(
    `${dir}/config.toml`,
    `[server]
data_dir = "${dir}/data"
control_socket = "${socket}"
bind = "127.0.0.1"
http_port = ${port}
https_port = 0
[docker]
socket = "${dir}/no-docker.sock"
[isolates]
# the test's HTTPS server is on loopback, which the bundler denies unless listed
allow_net = ["127.0.0.1/32"]
min_workers = 1
max_workers = 2
cluster_cpu_pct_target = 1.0
cluster_memory_pct_target = 1.0
`,
  );
  await using daemon = new DaemonProcess(`${dir}/config.toml`, {
    DENO_CERT: `${dir}/ca/ca.pem`,
  });
  daemon.start();
  const client = new ControlClient(socket);
  try {
    await daemon.waitFor("the daemon", async () => {
      await client.list();
      return true;
    });
    const lines: string[] = [];
    const r = await client.deploy(`${dir}/app`, {}, (l) => lines.push(l));
    assert(r.ok, `${r.error}\n${lines.join("\n")}\n${daemon.output}`);
    assertEquals([r.kind, r.service, r.release], ["function", "remote", 1]);
    assertEquals(hits, ["/mod.ts"]);

    // One self-contained file: the remote code inlined, no import left.
    const manifest = await new ReleaseStore(`${dir}/data/functions`)
      .read("remote", 1);
    assert(manifest.optimized);
    assert(manifest.artifact.endsWith(".js"), manifest.artifact);
    const artifact = await Deno.readTextFile(manifest.artifact);
    assertStringIncludes(artifact, `"${MARK}"`);
    assert(!artifact.includes(`${origin}/mod.ts"`), artifact);
    assert(!/\bimport\s*[{*\w]/.test(artifact), artifact);

    assertEquals(await getWithHost(port, "remote.fn.test", "/", 5000), {
      status: 200,
      body: `value ${MARK}`,
    });
    const late = await getWithHost(port, "remote.fn.test", "/import", 5000);
    assertEquals(late?.status, 403, late?.body);
    assertStringIncludes(late!.body, "Requires import access");
    assertEquals(hits, ["/mod.ts"]);
  } finally {
    client.close();
    await daemon.stop();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
