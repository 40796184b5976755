/**
 * Issue 11 point 4 as a user reaches it: a real daemon with a real
 * container service. A function release on the container's URL, and a
 * function named like the container, are refused by the router; neither
 * changes what a restart reads (`current`, release dirs): after a restart
 * the old function release and the container both serve, and nothing is
 * "not restored".
 */
import { ControlClient } from "../../lib/api/control_client.ts";
import { ReleaseStore } from "../../lib/functions/releases.ts";
import { assert, assertEquals } from "../_assert.ts";
import { DaemonProcess, freePort } from "./_daemon.ts";
import {
  docker,
  ensureBusyboxImage,
  getWithHost,
  removeByLabel,
  removeImages,
  uniqueName,
  writeHttpdApp,
} from "./_images.ts";

const SECRET = `sekrit-${crypto.randomUUID().slice(0, 8)}`;

function keeper(body: string, imports = ""): string {
  return `// mypaas.service=keeper
// mypaas.url=http://keeper.fn.test/
// mypaas.env=KEEPER_SECRET=${SECRET}
${imports}
export default { fetch: () => new Response(${body}) };
`;
}

async function daemonDir(prefix: string, extra = (_dir: string) => "") {
  const dir = await Deno.makeTempDir({ prefix });
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
[isolates]
min_workers = 0
max_workers = 2
cluster_cpu_pct_target = 1.0
cluster_memory_pct_target = 1.0
${extra(dir)}`,
  );
  return { dir, port, socket, config: `${dir}/config.toml` };
}

async function started(daemon: DaemonProcess, socket: string) {
  daemon.start();
  const client = new ControlClient(socket);
  await daemon.waitFor("the daemon", async () => {
    await client.list();
    return true;
  });
  return client;
}

async function deployFile(
  client: ControlClient,
  dir: string,
  source: string,
  options: { skipOptimize?: boolean } = {},
) {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/main.ts`, source);
  const lines: string[] = [];
  try {
    const r = await client.deploy(dir, options, (l) => lines.push(l));
    return { ...r, lines: lines.join("\n") };
  } catch (err) {
    // refused before the stream started (a 4xx)
    return { ok: false, error: (err as Error).message, lines: "" };
  }
}

Deno.test("e2e daemon: a function push the router refuses leaves nothing a restart reads; the old release serves after a restart", async () => {
  await ensureBusyboxImage();
  const network = uniqueName("mypaas-sb");
  const web = uniqueName("web");
  const { dir, port, socket, config } = await daemonDir(
    "mypaas-sandbox-refused-",
    (dir) =>
      `[docker]
network = "${network}"
volume_root = "${dir}/volumes"
`,
  );
  await using daemon = new DaemonProcess(config);
  let client = await started(daemon, socket);
  try {
    await writeHttpdApp(`${dir}/web`, {
      body: "container",
      comments: [`service=${web}`, `url=http://${web}.test/`],
    });
    const w = await client.deploy(`${dir}/web`, {}, () => {});
    assert(w.ok, `${w.error}\n${daemon.output}`);
    const v1 = await deployFile(client, `${dir}/keeper`, keeper('"keeper v1"'));
    assert(v1.ok, `${v1.error}\n${v1.lines}`);

    // A release on the container's URL: refused by the router.
    const onUrl = await deployFile(
      client,
      `${dir}/keeper`,
      keeper('"stolen url"').replace(
        "http://keeper.fn.test/",
        `http://${web}.test/`,
      ),
    );
    assert(!onUrl.ok, onUrl.lines);
    // A function named like the container service: refused, no trace.
    const named = await deployFile(
      client,
      `${dir}/named`,
      `// mypaas.service=${web}
// mypaas.url=http://named.fn.test/
export default { fetch: () => new Response("named") };
`,
    );
    assert(!named.ok, named.lines);
    const fns = `${dir}/data/functions`;
    assertEquals(await Deno.readTextFile(`${fns}/keeper/current`), "1\n");
    assertEquals(await new ReleaseStore(fns).releases("keeper"), [1]);
    assertEquals(
      await Deno.stat(`${fns}/${web}`).then(() => "exists", () => "none"),
      "none",
    );

    client.close();
    await daemon.stop();
    client = await started(daemon, socket);
    await daemon.waitFor(
      "keeper after the restart",
      async () =>
        (await getWithHost(port, "keeper.fn.test", "/", 5000))?.body ===
          "keeper v1",
    );
    assertEquals(
      (await getWithHost(port, `${web}.test`, "/", 5000))?.body,
      "container",
    );
    assert(!daemon.output.includes("not restored"), daemon.output);
  } finally {
    client.close();
    await daemon.stop();
    await removeByLabel(`mypaas.owner=${network}`);
    await removeImages(`mypaas/${web}`);
    await docker(["network", "rm", network], { allowFail: true });
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
