// deno-lint-ignore-file no-console
/**
 * Issue 11 points 8, 10, 11 and 17 through a real daemon (`server run` from
 * a config file, Docker, HTTPS with a test CA), the real CLI and the MyPaas
 * (Python) client fixture:
 *
 * - 11.11: refusals known before the build answer their 4xx status before
 *   the stream (the CLI exits 2, the Python client exits 1), and spec
 *   errors name `Dockerfile:N`, never the server's temp path;
 * - 11.8: a URL on the admin domain is refused, following a SIGHUP that
 *   changes the admin domain (the old one is then free);
 * - 11.10: a build step silent for longer than `keepalive_timeout` no
 *   longer gets the stream cut: the push exits 0;
 * - 11.17: `publish` of the daemon's HTTPS port, or of a port another
 *   service publishes, is refused before the build.
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

const KEYS = new URL("../fixtures/keys/", import.meta.url).pathname;

function configText(o: {
  domain: string;
  data: string;
  dir: string;
  httpPort: number;
  httpsPort: number;
  network: string;
}): string {
  return `[server]
domain = "${o.domain}"
data_dir = "${o.data}"
bind = "127.0.0.1"
http_port = ${o.httpPort}
https_port = ${o.httpsPort}
control_socket = "${o.dir}/ctl.sock"
[docker]
network = "${o.network}"
volume_root = "${o.dir}/volumes"
[proxy]
drain_timeout = "200ms"
keepalive_timeout = "1s"
`;
}

Deno.test("e2e push check: refusals before the stream (4xx, CLI 2, MyPaas client 1), the admin domain across a reload, publish conflicts, a silent build step past keepalive_timeout", async () => {
  await requireDocker();
  await ensureBusyboxImage();
  const dir = await Deno.makeTempDir({ prefix: "mypaas-push-check-" });
  const network = uniqueName("mypaas-check");
  const sleeper = uniqueName("sleeper");
  const data = `${dir}/data`;
  const home = `${dir}/home`;
  const httpPort = freePort();
  const httpsPort = freePort();
  const publishPort = freePort();
  const cfg = {
    domain: "localhost",
    data,
    dir,
    httpPort,
    httpsPort,
    network,
  };
  const file = `${dir}/config.toml`;
  const daemon = new DaemonProcess(file);
  try {
    await Deno.mkdir(`${data}/certs/manual`, { recursive: true });
    await Deno.mkdir(home);
    await makeTestCa(dir, ["localhost"]);
    await Deno.copyFile(`${dir}/leaf.pem`, `${data}/certs/manual/test.crt`);
    await Deno.copyFile(`${dir}/leaf.key`, `${data}/certs/manual/test.key`);
    await Deno.writeTextFile(file, configText(cfg));
    const gen = await runMain(["key-gen"], { HOME: home });
    assertEquals(gen.code, 0, gen.stderr);
    const pub = gen.stdout.split("\n").find((l) =>
      l.startsWith("ed25519-pub-")
    )!;
    const rsa = JSON.parse(
      await Deno.readTextFile(`${KEYS}/mypaas_rsa.json`),
    ) as Record<string, string>;
    await Deno.writeTextFile(`${dir}/rsa.txt`, rsa.private_plain!);
    await Deno.writeTextFile(
      `${data}/authorized_keys`,
      `${pub} cli\n${rsa.public} mypaas\n`,
    );
    daemon.start();
    let server = `https://localhost:${httpsPort}`;
    await daemon.waitFor("the daemon API over HTTPS", async () => {
      const r = await runMain(["status", server, "--ca", `${dir}/ca.pem`], {
        HOME: home,
      });
      return r.code === 0;
    });
    const cli = (args: string[]) =>
      runMain([...args, "--ca", `${dir}/ca.pem`], { HOME: home });
    const python = async (app: string) => {
      const out = await new Deno.Command("python3", {
        args: [
          `${KEYS}/mypaas_push.py`,
          server,
          `${dir}/ca.pem`,
          `${dir}/rsa.txt`,
          app,
        ],
        stdin: "null",
      }).output();
      return {
        code: out.code,
        text: new TextDecoder().decode(out.stdout) +
          new TextDecoder().decode(out.stderr),
      };
    };
    /** Both clients are refused with `status` naming `what`; nothing built. */
    const refused = async (app: string, status: number, what: string) => {
      const r = await cli(["push", server, app]);
      assertEquals(r.code, 2, `${r.stdout}\n${r.stderr}`);
      assertStringIncludes(r.stderr, `HTTP ${status}`);
      assertStringIncludes(r.stderr, what);
      assert(!r.stderr.includes("/tmp/push_"), r.stderr);
      assert(!r.stdout.includes("Step 1/"), r.stdout);
      const py = await python(app);
      assertEquals(py.code, 1, py.text);
      assertStringIncludes(py.text, `STATUS ${status}`);
      return r.stderr;
    };

    // 11.11: a spec error, named as in the upload.
    const badSpec = `${dir}/bad-spec`;
    await writeHttpdApp(badSpec, {
      body: "x",
      comments: ["port=eighty", "service=bad-spec"],
    });
    const msg = await refused(badSpec, 400, "Dockerfile:2: ");
    assert(!msg.includes(data), msg);

    // 11.8: the admin domain cannot be claimed, whatever the path.
    const admin = `${dir}/admin-claim`;
    await writeHttpdApp(admin, {
      body: "x",
      comments: ["url=https://localhost/blog", "service=admin-claim"],
    });
    await refused(admin, 409, "admin domain");

    // 11.17: the daemon's own HTTPS port cannot be published.
    const ownPort = `${dir}/own-port`;
    await writeHttpdApp(ownPort, {
      body: "x",
      comments: [`publish=${httpsPort}:80`, "service=own-port"],
    });
    await refused(ownPort, 409, "daemon's own");

    // SIGHUP: the admin domain moves to 127.0.0.1; localhost is free now,
    // and 127.0.0.1 is refused.
    await Deno.writeTextFile(file, configText({ ...cfg, domain: "127.0.0.1" }));
    daemon.kill("SIGHUP");
    server = `https://127.0.0.1:${httpsPort}`;
    await daemon.waitFor("the API on the new admin domain", async () => {
      const r = await cli(["status", server]);
      return r.code === 0;
    });
    const newAdmin = `${dir}/new-admin`;
    await writeHttpdApp(newAdmin, {
      body: "x",
      comments: ["url=https://127.0.0.1/", "service=new-admin"],
    });
    await refused(newAdmin, 409, "admin domain");

    // 11.10 (and the old admin domain, free now): a build step silent for
    // three keepalive_timeouts; the service publishes a port.
    const app = `${dir}/${sleeper}`;
    await writeHttpdApp(app, {
      body: "slept\n",
      comments: [
        `service=${sleeper}`,
        "url=https://localhost/",
        `publish=${publishPort}:80`,
      ],
      extra: ["RUN sleep 3"],
    });
    const ok = await cli(["push", server, app]);
    assertEquals(ok.code, 0, `${ok.stdout}\n${ok.stderr}\n${daemon.output}`);
    assertStringIncludes(ok.stdout, "Deploy ok");
    assert(!ok.stdout.includes("mypaas: working"), ok.stdout);

    // 11.17: another service may not publish the same host port, and a
    // URL another service serves is refused before the build too (11.11).
    const samePort = `${dir}/same-port`;
    await writeHttpdApp(samePort, {
      body: "x",
      comments: [`publish=${publishPort}:8080`, "service=same-port"],
    });
    await refused(samePort, 409, `already published by "${sleeper}"`);
    const sameUrl = `${dir}/same-url`;
    await writeHttpdApp(sameUrl, {
      body: "x",
      comments: ["url=https://localhost/", "service=same-url"],
    });
    await refused(sameUrl, 409, `already served by "${sleeper}"`);
  } catch (err) {
    console.error(daemon.output);
    throw err;
  } finally {
    await daemon.stop();
    await removeByLabel(`mypaas.owner=${network}`);
    // the refused ones too, should a regression have deployed them
    for (
      const s of [
        sleeper,
        "bad-spec",
        "admin-claim",
        "own-port",
        "new-admin",
        "same-port",
        "same-url",
      ]
    ) await removeImages(`mypaas/${s}`);
    await docker(["network", "rm", network], { allowFail: true });
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
