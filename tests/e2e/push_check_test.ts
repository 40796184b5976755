// deno-lint-ignore-file no-console
/**
 * Refusals known before the progress stream, end to end: a real daemon
 * from config.toml behind its own HTTPS proxy, the real `mypaas push` CLI
 * and the MyPaas-style Python client (tests/fixtures/keys/mypaas_push.py),
 * which only looks at the HTTP status. A bad spec line, a URL another
 * service holds, a URL on the admin domain (also after a SIGHUP moves it), a
 * published port the daemon listens on or another service publishes: each
 * is a 4xx before anything is built, the message names `Dockerfile:N` (not
 * the server's temp path), and the running release keeps serving. With a
 * short `keepalive_timeout`, a build step silent longer than it still ends
 * in exit 0: the stream's heartbeat keeps the connection guard away.
 */
import { makeTestCa } from "../_api_helpers.ts";
import { assert, assertEquals, assertStringIncludes } from "../_push_assert.ts";
import {
  docker,
  ensureBusyboxImage,
  removeByLabel,
  removeImages,
  requireDocker,
  uniqueName,
  writeHttpdApp,
} from "./_images.ts";
import { DaemonProcess, freePort } from "./_daemon.ts";
import { runMain } from "../_run_main.ts";

const dec = new TextDecoder();
const FIXTURES = new URL("../fixtures/keys/", import.meta.url).pathname;

/** GET https://host:port/path over TLS to 127.0.0.1. */
async function httpsGet(host: string, port: number, ca: string, path = "/") {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  const tls = await Deno.startTls(tcp, { hostname: host, caCerts: [ca] });
  try {
    await tls.write(new TextEncoder().encode(
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
    ));
    let text = "";
    const buf = new Uint8Array(16384);
    for (;;) {
      const n = await tls.read(buf);
      if (n === null) break;
      text += dec.decode(buf.subarray(0, n));
    }
    const status = Number(text.split(" ")[1]);
    return { status, body: text.slice(text.indexOf("\r\n\r\n") + 4) };
  } finally {
    try {
      tls.close();
    } catch { /* closed */ }
  }
}

Deno.test("e2e push check: spec errors, URL/admin-domain/publish conflicts are 4xx before the stream (CLI exit 2, Python client exit 1); a silent build step outlives keepalive_timeout", async () => {
  await requireDocker();
  await ensureBusyboxImage();
  const dir = await Deno.makeTempDir({ prefix: "mypaas-pushcheck-e2e-" });
  const network = uniqueName("mypaas-pushcheck");
  const web = uniqueName("web");
  const pub = uniqueName("pub");
  const refused = uniqueName("refused");
  const slow = uniqueName("slow");
  const data = `${dir}/data`;
  const home = `${dir}/home`;
  const httpPort = freePort();
  const httpsPort = freePort();
  const hostPort = freePort();
  const host = `${web}.localhost`;
  const slowHost = `${slow}.localhost`;
  const daemon = new DaemonProcess(`${dir}/config.toml`);
  const config = (domain: string) =>
    `[server]
domain = "${domain}"
data_dir = "${data}"
bind = "127.0.0.1"
http_port = ${httpPort}
https_port = ${httpsPort}
control_socket = "${dir}/ctl.sock"
[docker]
network = "${network}"
volume_root = "${dir}/volumes"
[proxy]
drain_timeout = "200ms"
keepalive_timeout = "2s"
`;
  try {
    await Deno.mkdir(`${data}/certs/manual`, { recursive: true });
    await Deno.mkdir(home);
    await makeTestCa(dir, ["localhost", host, slowHost]);
    await Deno.copyFile(`${dir}/leaf.pem`, `${data}/certs/manual/test.crt`);
    await Deno.copyFile(`${dir}/leaf.key`, `${data}/certs/manual/test.key`);
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);
    await Deno.writeTextFile(`${dir}/config.toml`, config("localhost"));
    const gen = await runMain(["key-gen"], { HOME: home });
    assertEquals(gen.code, 0, gen.stderr);
    const cliKey = gen.stdout.split("\n").find((l) =>
      l.startsWith("ed25519-pub-")
    );
    assert(cliKey, gen.stdout);
    const rsa = JSON.parse(
      await Deno.readTextFile(`${FIXTURES}/mypaas_rsa.json`),
    ) as Record<string, string>;
    await Deno.writeTextFile(`${dir}/rsa.txt`, rsa.private_plain!);
    await Deno.writeTextFile(
      `${data}/authorized_keys`,
      `${cliKey} e2e client\n${rsa.public} python client\n`,
    );

    daemon.start();
    const apiUp = (name: string) =>
      daemon.waitFor(
        `the daemon API at https://${name}`,
        async () =>
          (await httpsGet(name, httpsPort, ca, "/daemon/time")).status ===
            200,
      );
    await apiUp("localhost");
    let server = `https://localhost:${httpsPort}`;
    const mypaas = (args: string[]) =>
      runMain([...args, "--ca", `${dir}/ca.pem`], { HOME: home });
    const python = async (app: string) => {
      const out = await new Deno.Command("python3", {
        args: [
          `${FIXTURES}/mypaas_push.py`,
          server,
          `${dir}/ca.pem`,
          `${dir}/rsa.txt`,
          app,
        ],
        stdin: "null",
      }).output();
      return {
        code: out.code,
        text: dec.decode(out.stdout) + dec.decode(out.stderr),
      };
    };
    const serving = async () => {
      const got = await httpsGet(host, httpsPort, ca);
      assertEquals(got.status, 200, got.body);
      assertEquals(got.body, `hello from ${web}\n`);
    };
    /** Nothing of a refused push is left behind: no image, no upload. */
    const nothingLeft = async () => {
      const images = await docker([
        "images",
        "-q",
        `mypaas/${refused}`,
      ]);
      assertEquals(images.stdout.trim(), "", "a refused push built an image");
      const tmp = [];
      for await (const e of Deno.readDir(`${data}/tmp`)) tmp.push(e.name);
      assertEquals(tmp, [], "a refused push left its upload");
    };

    // The service that must keep serving.
    const app = `${dir}/web`;
    await writeHttpdApp(app, {
      body: `hello from ${web}\n`,
      comments: [`service=${web}`, `url=https://${host}/`],
    });
    const first = await mypaas(["push", server, app]);
    assertEquals(first.code, 0, `${first.stdout}\n${first.stderr}`);
    await serving();

    // 11.11: a bad spec line is a 400 naming Dockerfile:2, not the temp path.
    const bad = `${dir}/bad`;
    await writeHttpdApp(bad, {
      body: "never\n",
      comments: [`scale=banana`, `service=${refused}`],
    });
    const badCli = await mypaas(["push", server, bad]);
    assertEquals(badCli.code, 2, `${badCli.stdout}\n${badCli.stderr}`);
    assertStringIncludes(badCli.stderr, "HTTP 400");
    assertStringIncludes(badCli.stderr, "Dockerfile:2:");
    assert(!badCli.stderr.includes("push_"), badCli.stderr);
    assert(!badCli.stderr.includes(data), badCli.stderr);
    const badPy = await python(bad);
    assertEquals(badPy.code, 1, badPy.text);
    assertStringIncludes(badPy.text, "STATUS 400");
    assertStringIncludes(badPy.text, "Dockerfile:2:");
    await nothingLeft();

    // A URL another service holds: 409, before anything is built.
    const clash = `${dir}/clash`;
    await writeHttpdApp(clash, {
      body: "never\n",
      comments: [`service=${refused}`, `url=https://${host}/`],
    });
    const clashCli = await mypaas(["push", server, clash]);
    assertEquals(clashCli.code, 2, `${clashCli.stdout}\n${clashCli.stderr}`);
    assertStringIncludes(clashCli.stderr, "HTTP 409");
    const clashPy = await python(clash);
    assertEquals(clashPy.code, 1, clashPy.text);
    assertStringIncludes(clashPy.text, "STATUS 409");
    await nothingLeft();
    await serving();

    // 11.8: the admin domain belongs to the daemon.
    const admin = `${dir}/admin`;
    const adminApp = (url: string) =>
      writeHttpdApp(admin, {
        body: "tenant page\n",
        comments: [`service=${refused}`, `url=${url}`],
      });
    await adminApp("https://localhost/");
    const adminCli = await mypaas(["push", server, admin]);
    assertEquals(adminCli.code, 2, `${adminCli.stdout}\n${adminCli.stderr}`);
    assertStringIncludes(adminCli.stderr, "HTTP 409");
    assertStringIncludes(adminCli.stderr, "admin domain");
    // A function (no Dockerfile) with --domain on the admin domain too.
    const fnDir = `${dir}/${refused}`;
    await Deno.mkdir(fnDir);
    await Deno.writeTextFile(
      `${fnDir}/main.ts`,
      "export default { fetch: () => new Response('tenant') };\n",
    );
    const fnCli = await mypaas([
      "push",
      server,
      fnDir,
      "--domain",
      "localhost",
    ]);
    assertEquals(fnCli.code, 2, `${fnCli.stdout}\n${fnCli.stderr}`);
    assertStringIncludes(fnCli.stderr, "admin domain");
    // A function whose URL a container service holds: 409 before bundling.
    const fnClash = await mypaas(["push", server, fnDir, "--domain", host]);
    assertEquals(fnClash.code, 2, `${fnClash.stdout}\n${fnClash.stderr}`);
    assertStringIncludes(fnClash.stderr, "HTTP 409");
    assertStringIncludes(fnClash.stderr, `already served by "${web}"`);
    // SIGHUP moves the admin domain: the check follows it.
    await Deno.writeTextFile(`${dir}/config.toml`, config("127.0.0.1"));
    daemon.kill("SIGHUP");
    await apiUp("127.0.0.1");
    server = `https://127.0.0.1:${httpsPort}`;
    await adminApp("https://127.0.0.1/");
    const moved = await mypaas(["push", server, admin]);
    assertEquals(moved.code, 2, `${moved.stdout}\n${moved.stderr}`);
    assertStringIncludes(moved.stderr, "admin domain 127.0.0.1");
    await nothingLeft();
    await serving();

    // 11.17: publish of the daemon's own port, or of another service's.
    const pubApp = async (d: string, name: string, port: number) =>
      await writeHttpdApp(d, {
        body: `${name}\n`,
        comments: [`service=${name}`, `publish=${port}:80`],
      });
    const own = `${dir}/own`;
    await pubApp(own, refused, httpsPort);
    const ownCli = await mypaas(["push", server, own]);
    assertEquals(ownCli.code, 2, `${ownCli.stdout}\n${ownCli.stderr}`);
    assertStringIncludes(ownCli.stderr, "HTTP 409");
    assertStringIncludes(ownCli.stderr, "https_port");
    const holder = `${dir}/holder`;
    await pubApp(holder, pub, hostPort);
    const held = await mypaas(["push", server, holder]);
    assertEquals(held.code, 0, `${held.stdout}\n${held.stderr}`);
    const taker = `${dir}/taker`;
    await pubApp(taker, refused, hostPort);
    const taken = await mypaas(["push", server, taker]);
    assertEquals(taken.code, 2, `${taken.stdout}\n${taken.stderr}`);
    assertStringIncludes(taken.stderr, `service "${pub}" publishes`);
    assert(!taken.stdout.includes("Step 1/"), "refused after building");
    await nothingLeft();
    await serving();

    // 11.10: a build step silent for longer than keepalive_timeout (2s):
    // heartbeats keep the stream alive, and the exit code is the outcome.
    const silent = `${dir}/silent`;
    await writeHttpdApp(silent, {
      body: `hello from ${slow}\n`,
      comments: [`service=${slow}`, `url=https://${slowHost}/`],
      extra: ["RUN sleep 7"],
    });
    const slowPush = await mypaas(["push", server, silent]);
    assertEquals(
      slowPush.code,
      0,
      `${slowPush.stdout}\n${slowPush.stderr}\n${daemon.output}`,
    );
    assertStringIncludes(slowPush.stdout, "Deploy ok");
    assert(!slowPush.stdout.includes("mypaas: working"), slowPush.stdout);
    assertEquals(
      (await httpsGet(slowHost, httpsPort, ca)).body,
      `hello from ${slow}\n`,
    );
    await serving();
  } catch (err) {
    console.error(daemon.output);
    throw err;
  } finally {
    await daemon.stop();
    await removeByLabel(`mypaas.owner=${network}`);
    for (const s of [web, pub, refused, slow]) {
      await removeImages(`mypaas/${s}`);
    }
    await docker(["network", "rm", network], { allowFail: true });
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
