/**
 * `mypaas server run` as a real process takes a new config.toml on SIGHUP
 * and on a file change, without a restart and without dropping its
 * listener; a broken config is refused and the running one stays.
 */
import { assert, assertEquals } from "../_docker_contract.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

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

async function until(
  what: string,
  check: () => Promise<boolean>,
  logs: string[],
) {
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}\n${logs.join("")}`);
}

Deno.test("server run reloads config.toml on SIGHUP and on file change, and keeps a good config over a bad one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-reload-" });
  const port = freePort();
  const file = `${dir}/config.toml`;
  await Deno.writeTextFile(file, configText(dir, port, "1M"));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "server", "run", "--config", file],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const logs: string[] = [];
  (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) logs.push(dec.decode(chunk));
  })().catch(() => {});
  try {
    await until("the daemon", async () => (await post(port)) === 404, logs);

    // SIGHUP: a smaller body limit applies to the next request.
    await Deno.writeTextFile(`${file}.new`, configText(dir, port, "1K"));
    await Deno.rename(`${file}.new`, file); // no watch event mid-write
    child.kill("SIGHUP");
    await until(
      "413 after the reload",
      async () => (await post(port)) === 413,
      logs,
    );

    // A broken file is refused; the running config (1K) stays.
    await Deno.writeTextFile(file, "[proxy\nmax_body = ");
    child.kill("SIGHUP");
    await until(
      "the refusal",
      () => Promise.resolve(logs.join("").includes("config not reloaded")),
      logs,
    );
    assertEquals(await post(port), 413);

    // A plain edit, no signal: the watcher reloads it.
    await Deno.writeTextFile(file, configText(dir, port, "1M"));
    await until(
      "404 after the file change",
      async () => (await post(port)) === 404,
      logs,
    );

    // A key that binds a listener is kept and reported.
    await Deno.writeTextFile(file, configText(dir, port + 1, "1M"));
    await until(
      "the restart warning",
      () => Promise.resolve(logs.join("").includes("[server] httpPort")),
      logs,
    );
    assertEquals(await post(port), 404);
    assert(child.pid > 0);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
