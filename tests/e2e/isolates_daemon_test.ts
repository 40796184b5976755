/**
 * Isolate functions through the real daemon process (`deno run -A main.ts
 * server run`): a function deployed over the control socket answers at its
 * domain through the proxy, again after an idle shutdown (a cold start from
 * standby), and is gone after `remove`. Loopback only.
 */
import { ControlClient } from "../../lib/api/control_client.ts";
import { assert, assertEquals } from "../isolates_assert.ts";
import { fixtureCopy } from "../functions_helpers.ts";
import { DaemonProcess, freePort } from "./_daemon.ts";
import { getWithHost } from "./_images.ts";

Deno.test("daemon: a deployed function answers at its domain, after an idle shutdown too, until removed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-iso-e2e-" });
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
network = "mypaas-iso-e2e-${crypto.randomUUID().slice(0, 8)}"
[isolates]
min_workers = 1
max_workers = 4
idle_timeout = "1s"
cluster_cpu_pct_target = 1.0
cluster_memory_pct_target = 1.0
[env]
GREETING = "hi"
`,
  );
  const daemon = new DaemonProcess(`${dir}/config.toml`);
  daemon.start();
  const client = new ControlClient(socket);
  const app = await fixtureCopy("hello");
  try {
    await daemon.waitFor("the daemon", async () => {
      await client.list();
      return true;
    });
    const lines: string[] = [];
    const r = await client.deploy(app, {}, (l) => lines.push(l));
    assert(r.ok, `${r.error}\n${lines.join("\n")}\n${daemon.output}`);
    assertEquals([r.kind, r.service, r.release], ["function", "hello", 1]);

    const get = () => getWithHost(port, "hello.fn.test", "/e2e", 5000);
    assertEquals(await get(), { status: 200, body: "hi from v1 1 /e2e" });
    assertEquals(await get(), { status: 200, body: "hi from v1 2 /e2e" });

    // Idle shutdown: the function's isolates go; the next request
    // cold-starts a fresh one (its counter starts again).
    const idleBy = Date.now() + 10_000;
    let state = "";
    while (Date.now() < idleBy) {
      const s = (await client.list()).find((d) => d.service === "hello");
      state = s?.state ?? "missing";
      if (state === "idle") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assertEquals(state, "idle");
    assertEquals(await get(), { status: 200, body: "hi from v1 1 /e2e" });

    // By x-deno-deploy-id, whatever the Host (here 127.0.0.1).
    const byId = await fetch(`http://127.0.0.1:${port}/id`, {
      headers: { "x-deno-deploy-id": "hello" },
    });
    assertEquals(byId.status, 200);
    assertEquals(await byId.text(), "hi from v1 2 /id");
    const unknownId = await fetch(`http://127.0.0.1:${port}/id`, {
      headers: { "x-deno-deploy-id": "nope" },
    });
    assertEquals(unknownId.status, 404);
    await unknownId.body?.cancel();

    // The handler sees the client's URL, its address (not a spoofed one)
    // and the proxy's request id, as a container would.
    const echo = await Deno.makeTempDir({ prefix: "mypaas-echo-" });
    await Deno.writeTextFile(
      `${echo}/main.ts`,
      `// mypaas.service=echo
// mypaas.url=http://echo.fn.test
export default { fetch: (req, info) => Response.json({
  url: req.url,
  remote: info.remoteAddr.hostname,
  xff: req.headers.get("x-forwarded-for"),
  rid: req.headers.get("x-request-id"),
}) };
`,
    );
    const e = await client.deploy(echo, {}, () => {});
    await Deno.remove(echo, { recursive: true });
    assert(e.ok, e.error);
    const seen = await (await fetch(`http://127.0.0.1:${port}/e?q=1`, {
      headers: {
        "x-deno-deploy-id": "echo",
        "x-forwarded-for": "6.6.6.6",
        "x-request-id": "e2e-1",
      },
    })).json();
    assertEquals(seen, {
      url: `http://127.0.0.1:${port}/e?q=1`,
      remote: "127.0.0.1",
      xff: "6.6.6.6, 127.0.0.1",
      rid: "e2e-1",
    });

    await client.remove("hello");
    const gone = await get();
    assertEquals(gone?.status, 404);
  } finally {
    client.close();
    await daemon.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(app, { recursive: true }).catch(() => {});
  }
});
