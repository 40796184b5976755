/**
 * The function sandbox through a real daemon process (issue 11 points 1, 2
 * and 4, issue 24 point 3):
 * - a push whose bundle would inline /etc/passwd, or a module served on
 *   loopback, is refused naming the import, and the running release keeps
 *   serving;
 * - a function's top-level code cannot read another function's manifest
 *   (its env values) or bundle, and gets its own env from its load message;
 * - what holds tenants' code and env is 0700 / 0600, and a loosened path is
 *   named in a warning at the next start;
 * - a function push refused by the router (a container's name or URL)
 *   leaves nothing a restart reads: after a restart the old release serves.
 */
import { ControlClient } from "../../lib/api/control_client.ts";
import { ReleaseStore } from "../../lib/functions/releases.ts";
import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
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

/** Paths under `root` looser than 0700 (dirs) / 0600 (files). */
async function loose(root: string, skip: string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (path: string) => {
    if (skip.some((s) => path === `${root}/${s}`)) return;
    const st = await Deno.lstat(path);
    const mode = (st.mode ?? 0) & 0o777;
    if (st.isDirectory ? mode !== 0o700 : st.isFile && mode !== 0o600) {
      out.push(`${path} ${mode.toString(8)}`);
    }
    if (st.isDirectory) {
      for await (const e of Deno.readDir(path)) {
        await walk(`${path}/${e.name}`);
      }
    }
  };
  await walk(root);
  return out;
}

Deno.test("e2e daemon: bundling is sandboxed, functions cannot read each other, the data dir is private", async () => {
  const { dir, port, socket, config } = await daemonDir("mypaas-sandbox-");
  const hits: string[] = [];
  const loopback = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      hits.push(new URL(req.url).pathname);
      return new Response(`export const stolen = "LOOPBACK";\n`, {
        headers: { "content-type": "application/javascript" },
      });
    },
  );
  await using daemon = new DaemonProcess(config);
  let client = await started(daemon, socket);
  try {
    const v1 = await deployFile(client, `${dir}/keeper`, keeper('"keeper v1"'));
    assert(v1.ok, `${v1.error}\n${v1.lines}\n${daemon.output}`);
    assertEquals(await getWithHost(port, "keeper.fn.test", "/", 5000), {
      status: 200,
      body: "keeper v1",
    });

    // 11.1: a file outside the upload is not inlined; the old release serves.
    const passwd = await deployFile(
      client,
      `${dir}/keeper`,
      keeper("t", `import t from "/etc/passwd" with { type: "text" };`),
    );
    assert(!passwd.ok, passwd.lines);
    assertStringIncludes(passwd.error ?? "", "/etc/passwd");
    assertStringIncludes(passwd.error ?? "", "main.ts:4");
    // ... nor a module served on loopback (not even fetched).
    const origin = `http://127.0.0.1:${loopback.addr.port}`;
    const net = await deployFile(
      client,
      `${dir}/keeper`,
      keeper("stolen", `import { stolen } from "${origin}/m.js";`),
    );
    assert(!net.ok, net.lines);
    assertStringIncludes(net.error ?? "", `127.0.0.1:${loopback.addr.port}`);
    assertEquals(hits, []);
    assertEquals(await getWithHost(port, "keeper.fn.test", "/", 5000), {
      status: 200,
      body: "keeper v1",
    });

    // 11.2: top-level code reads no other function's files.
    const store = new ReleaseStore(`${dir}/data/functions`);
    assertEquals(await store.releases("keeper"), [1]);
    const kept = await store.read("keeper", 1);
    const targets = [
      `${dir}/data/functions/keeper/releases/1/manifest.json`,
      kept.artifact,
      `${dir}/data/functions/keeper/current`,
    ];
    const spy = await deployFile(
      client,
      `${dir}/spy`,
      `// mypaas.service=spy
// mypaas.url=http://spy.fn.test/
// mypaas.env=SPY_OWN=mine
const got: Record<string, string> = {};
for (const p of ${JSON.stringify(targets)}) {
  try {
    got[p] = "READ " + (await Deno.readTextFile(p)).slice(0, 400);
  } catch (err) {
    got[p] = (err as Error).name;
  }
}
got.own = String(Deno.env.get("SPY_OWN"));
export default { fetch: () => Response.json(got) };
`,
    );
    assert(spy.ok, `${spy.error}\n${spy.lines}`);
    const seen = await getWithHost(port, "spy.fn.test", "/", 5000);
    assertEquals(seen?.status, 200, seen?.body);
    const got = JSON.parse(seen!.body) as Record<string, string>;
    assert(!seen!.body.includes(SECRET), seen!.body);
    for (const t of targets) assertEquals(got[t], "NotCapable", t);
    assertEquals(got.own, "mine");

    // 24.3: code and env of tenants are private (a --skip-optimize one too,
    // whose sources the worker processes transpile into _deno_dir).
    const plain = await deployFile(
      client,
      `${dir}/plain`,
      `// mypaas.service=plain
// mypaas.url=http://plain.fn.test/
const msg: string = "plain ok";
export default { fetch: () => new Response(msg) };
`,
      { skipOptimize: true },
    );
    assert(plain.ok, `${plain.error}\n${plain.lines}`);
    assertEquals(
      (await getWithHost(port, "plain.fn.test", "/", 5000))?.body,
      "plain ok",
    );
    const fns = `${dir}/data/functions`;
    assertEquals(
      await loose(fns, [
        "_runtime",
        "_sockets",
        "_deno_dir/npm",
        "_deno_dir/dl",
      ]),
      [],
    );
    assert((await Deno.stat(`${fns}/_deno_dir`)).isDirectory);

    // A loosened path is named at the next start; keeper still serves.
    client.close();
    await daemon.stop();
    const manifest = `${fns}/keeper/releases/1/manifest.json`;
    await Deno.chmod(manifest, 0o644);
    client = await started(daemon, socket);
    assertStringIncludes(daemon.output, "readable by others");
    assertStringIncludes(daemon.output, `${manifest} (0644)`);
    assertEquals(await getWithHost(port, "keeper.fn.test", "/", 5000), {
      status: 200,
      body: "keeper v1",
    });
  } finally {
    client.close();
    await daemon.stop();
    await loopback.shutdown();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

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
