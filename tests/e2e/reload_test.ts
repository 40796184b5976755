/**
 * `mypaas server run` as a real process takes a new config.toml on SIGHUP
 * and on a file change, without a restart and without dropping its
 * listener; a broken config is refused and the running one stays.
 */
import { assert, assertEquals } from "../_docker_contract.ts";
import { ControlClient } from "../../lib/api/control_client.ts";
import { fixtureCopy } from "../functions_helpers.ts";
import { DaemonProcess, freePort } from "./_daemon.ts";
import { getWithHost } from "./_images.ts";

function configText(dir: string, port: number, maxBody: string): string {
  return `[server]
data_dir = "${dir}/data"
control_socket = "${dir}/ctl.sock"
bind = "127.0.0.1"
http_port = ${port}
https_port = 0
[docker]
socket = "${dir}/no-docker.sock"
[proxy]
max_body = "${maxBody}"
[isolates]
min_workers = 0
`;
}

/** POSTs 2000 bytes to an unrouted host: 404 under the limit, 413 over. */
async function post(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/x`, {
    method: "POST",
    body: new Uint8Array(2000),
  });
  await res.body?.cancel();
  return res.status;
}

Deno.test("server run reloads config.toml on SIGHUP and on file change, and keeps a good config over a bad one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-reload-" });
  const port = freePort();
  const file = `${dir}/config.toml`;
  await Deno.writeTextFile(file, configText(dir, port, "1M"));
  const daemon = new DaemonProcess(file);
  const child = daemon.start();
  const until = (what: string, check: () => Promise<boolean>) =>
    daemon.waitFor(what, check, { timeoutMs: 20_000 });
  try {
    await until("the daemon", async () => (await post(port)) === 404);

    // SIGHUP: a smaller body limit applies to the next request.
    await Deno.writeTextFile(`${file}.new`, configText(dir, port, "1K"));
    await Deno.rename(`${file}.new`, file); // no watch event mid-write
    child.kill("SIGHUP");
    await until(
      "413 after the reload",
      async () => (await post(port)) === 413,
    );

    // A broken file is refused; the running config (1K) stays.
    await Deno.writeTextFile(file, "[proxy\nmax_body = ");
    child.kill("SIGHUP");
    await until(
      "the refusal",
      () => Promise.resolve(daemon.output.includes("config not reloaded")),
    );
    assertEquals(await post(port), 413);

    // A plain edit, no signal: the watcher reloads it.
    await Deno.writeTextFile(file, configText(dir, port, "1M"));
    await until(
      "404 after the file change",
      async () => (await post(port)) === 404,
    );

    // A key that binds a listener is kept and reported.
    await Deno.writeTextFile(file, configText(dir, port + 1, "1M"));
    await until(
      "the restart warning",
      () => Promise.resolve(daemon.output.includes("[server] http_port")),
    );
    assertEquals(await post(port), 404);
    assert(child.pid > 0);
  } finally {
    await daemon.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("server run applies a reloaded [isolates] idle_timeout to a running function, and names cpu_limit as needing a restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-reload-iso-" });
  const port = freePort();
  const file = `${dir}/config.toml`;
  const socket = `${dir}/ctl.sock`;
  const text = (idle: string, cpu: string) =>
    configText(dir, port, "1M").replace(
      "min_workers = 0\n",
      `min_workers = 1
idle_timeout = "${idle}"
cpu_limit = "${cpu}"
cluster_cpu_pct_target = 1.0
cluster_memory_pct_target = 1.0
[env]
GREETING = "hi"
`,
    );
  await Deno.writeTextFile(file, text("1h", "1s"));
  const daemon = new DaemonProcess(file);
  const child = daemon.start();
  const client = new ControlClient(socket);
  const app = await fixtureCopy("hello");
  const state = async () =>
    (await client.list()).find((d) => d.service === "hello")?.state;
  try {
    await daemon.waitFor("the daemon", async () => {
      await client.list();
      return true;
    }, { timeoutMs: 20_000 });
    const r = await client.deploy(app, {}, () => {});
    assert(r.ok, `${r.error}\n${daemon.output}`);
    const res = await getWithHost(port, "hello.fn.test", "/", 5000);
    assertEquals(res?.status, 200);
    assertEquals(await state(), "running");

    await Deno.writeTextFile(`${file}.new`, text("1s", "2s"));
    await Deno.rename(`${file}.new`, file);
    child.kill("SIGHUP");
    await daemon.waitFor(
      "the restart warning",
      () => Promise.resolve(daemon.output.includes("need a restart")),
      { timeoutMs: 20_000 },
    );
    const warning = daemon.output.split("\n").find((l) =>
      l.includes("need a restart")
    )!;
    assert(warning.endsWith(": [isolates] cpu_limit"), warning);
    // one hour before the reload, one second after: the isolate goes idle
    await daemon.waitFor(
      "the function's isolate stopped after the new idle timeout",
      async () => (await state()) === "idle",
      { timeoutMs: 20_000 },
    );
  } finally {
    client.close();
    await daemon.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(app, { recursive: true }).catch(() => {});
  }
});

Deno.test("server run watches config.toml again after its directory was removed and re-created, and takes the new file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-rewatch-" });
  const port = freePort();
  const conf = `${dir}/conf`;
  await Deno.mkdir(conf);
  await Deno.writeTextFile(`${conf}/config.toml`, configText(dir, port, "1M"));
  const daemon = new DaemonProcess(`${conf}/config.toml`);
  daemon.start();
  const until = (what: string, check: () => Promise<boolean>) =>
    daemon.waitFor(what, check, { timeoutMs: 20_000 });
  try {
    await until("the daemon", async () => (await post(port)) === 404);
    // removed and re-created at once, as a config management tool may
    await Deno.remove(conf, { recursive: true });
    await Deno.mkdir(conf);
    await Deno.writeTextFile(
      `${conf}/config.toml`,
      configText(dir, port, "1K"),
    );
    await until(
      "413 from the re-created file",
      async () => (await post(port)) === 413,
    );
    assert(daemon.output.includes(`${conf} was removed`), daemon.output);
  } finally {
    await daemon.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
