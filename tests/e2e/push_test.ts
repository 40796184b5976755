// deno-lint-ignore-file no-console
/**
 * `mypaas push` end to end: a real daemon process (`server run` with its own
 * data dir, ports and Docker network) behind its own HTTPS proxy with a
 * certificate from a test CA, and a client whose key comes from
 * `mypaas key-gen` in a temp HOME, pushing over HTTPS with `--ca`.
 */
import { strToU8, zipSync } from "fflate";
import { ApiClient } from "../../lib/api/client.ts";
import { PrivateKey } from "../../lib/keys/mod.ts";
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

/** GET https://host:port/path over TLS to 127.0.0.1 (no DNS for *.localhost). */
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

Deno.test("e2e push: a key-gen client pushes over HTTPS with --ca; the app answers at its URL; a failing build exits 1", async () => {
  await requireDocker();
  await ensureBusyboxImage();
  const dir = await Deno.makeTempDir({ prefix: "mypaas-push-e2e-" });
  const network = uniqueName("mypaas-push");
  const service = uniqueName("pushed");
  const broken = uniqueName("broken");
  const data = `${dir}/data`;
  const home = `${dir}/home`;
  const httpPort = freePort();
  const httpsPort = freePort();
  const host = `${service}.localhost`;
  const fnHost = `${uniqueName("fn")}.localhost`;
  const daemon = new DaemonProcess(`${dir}/config.toml`);
  try {
    await Deno.mkdir(`${data}/certs/manual`, { recursive: true });
    await Deno.mkdir(home);
    await makeTestCa(dir, ["localhost", host, fnHost]);
    await Deno.copyFile(`${dir}/leaf.pem`, `${data}/certs/manual/test.crt`);
    await Deno.copyFile(`${dir}/leaf.key`, `${data}/certs/manual/test.key`);
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);
    await Deno.writeTextFile(
      `${dir}/config.toml`,
      `[server]
domain = "localhost"
data_dir = "${data}"
bind = "127.0.0.1"
http_port = ${httpPort}
https_port = ${httpsPort}
control_socket = "${dir}/ctl.sock"
max_upload = "2M"
max_unpacked = "4M"
[docker]
network = "${network}"
volume_root = "${dir}/volumes"
[proxy]
drain_timeout = "200ms"
[isolates]
min_workers = 1
cluster_cpu_pct_target = 1.0
cluster_memory_pct_target = 1.0
`,
    );
    // The client's key, made by the CLI in its own HOME.
    const gen = await runMain(["key-gen"], { HOME: home });
    assertEquals(gen.code, 0, gen.stderr);
    const pub = gen.stdout.split("\n").find((l) =>
      l.startsWith("ed25519-pub-")
    );
    assert(pub, gen.stdout);
    await Deno.writeTextFile(`${data}/authorized_keys`, `${pub} e2e client\n`);

    daemon.start();
    await daemon.waitFor(
      "the daemon API over HTTPS",
      async () =>
        (await httpsGet("localhost", httpsPort, ca, "/daemon/time"))
          .status === 200,
    );

    // Push the app.
    const app = `${dir}/app`;
    await writeHttpdApp(app, {
      body: `hello from ${service}\n`,
      comments: [
        `service=${service}`,
        `url=https://${host}/`,
        "healthcheck=/health 1s 1s",
      ],
    });
    const server = `https://localhost:${httpsPort}`;
    /** `mypaas ARGS --ca ca.pem` as the client in HOME `h`. */
    const mypaas = (args: string[], h = home) =>
      runMain([...args, "--ca", `${dir}/ca.pem`], { HOME: h });
    const push = await mypaas(["push", server, app]);
    assertEquals(
      push.code,
      0,
      `push failed:\n${push.stdout}\n${push.stderr}\n${daemon.output}`,
    );
    assertStringIncludes(push.stdout, "Deploy ok");
    const got = await httpsGet(host, httpsPort, ca);
    assertEquals(got.status, 200, got.body);
    assertEquals(got.body, `hello from ${service}\n`);

    // status sees it.
    const status = await mypaas(["status", server]);
    assertEquals(status.code, 0, status.stderr);
    assertStringIncludes(status.stdout, service);

    // logs: a deployed service answers, an unknown one is bad input (404).
    const logOut = await mypaas(["logs", server, service, "--tail", "5"]);
    assertEquals(logOut.code, 0, logOut.stderr);
    const noLogs = await mypaas(["logs", server, "nope-nope"]);
    assertEquals(noLogs.code, 2, noLogs.stderr);
    assertStringIncludes(noLogs.stderr, "HTTP 404");

    // A failing build: exit 1 and the failing build lines.
    const bad = `${dir}/bad`;
    await writeHttpdApp(bad, {
      body: "never",
      comments: [`service=${broken}`, `url=https://${broken}.localhost/`],
      extra: ["RUN echo compiling-the-thing && false"],
    });
    const failed = await mypaas(["push", server, bad]);
    assertEquals(failed.code, 1, `${failed.stdout}\n${failed.stderr}`);
    assertStringIncludes(failed.stdout, "compiling-the-thing");
    assertStringIncludes(failed.stderr, "Deploy failed");
    // The running service is untouched.
    assertEquals(
      (await httpsGet(host, httpsPort, ca)).body,
      `hello from ${service}\n`,
    );

    // A function directory (no Dockerfile): named after the pushed
    // directory, served at its --domain.
    const fnName = uniqueName("fn");
    const fnDir = `${dir}/${fnName}`;
    await Deno.mkdir(fnDir);
    await Deno.writeTextFile(
      `${fnDir}/main.ts`,
      "export default { fetch: () => new Response(`fn says hi\\n`) };\n",
    );
    const fnPush = await mypaas(["push", server, fnDir, "--domain", fnHost]);
    assertEquals(fnPush.code, 0, `${fnPush.stdout}\n${fnPush.stderr}`);
    const fnGot = await httpsGet(fnHost, httpsPort, ca);
    assertEquals(fnGot.body, "fn says hi\n", `HTTP ${fnGot.status}`);
    const fnStatus = await mypaas(["status", server]);
    assertStringIncludes(fnStatus.stdout, `${fnName} (function)`);

    // A key the server does not know: refused (403), exit 2.
    const stranger = `${dir}/stranger`;
    await Deno.mkdir(stranger);
    assertEquals(
      (await runMain(["key-gen"], { HOME: stranger })).code,
      0,
    );
    const denied = await mypaas(["push", server, app], stranger);
    assertEquals(denied.code, 2, denied.stderr);
    assertStringIncludes(denied.stderr, "HTTP 403");
    // authorized_keys is re-read when it changes: no restart needed.
    const strangerKey = (await runMain(["key-get"], { HOME: stranger })).stdout
      .split("\n")[0]!;
    await Deno.writeTextFile(`${data}/authorized_keys`, `${strangerKey}\n`, {
      append: true,
    });
    const admitted = await mypaas(["status", server], stranger);
    assertEquals(admitted.code, 0, admitted.stderr);

    // Attacks through the real proxy: each refused with its status, and the
    // service keeps answering.
    const key = await PrivateKey.fromPem(
      await Deno.readTextFile(`${home}/.ssh/mypaas_key`),
    );
    const client = Deno.createHttpClient({ caCerts: [ca] });
    const tlsFetch = ((i: string | URL | Request, init?: RequestInit) =>
      fetch(i, { ...init, client })) as typeof fetch;
    const api = new ApiClient({ server, key, fetch: tlsFetch });
    const send = async (url: string, body: Uint8Array<ArrayBuffer>) => {
      const r = await tlsFetch(url, { method: "POST", body });
      return { status: r.status, text: await r.text() };
    };
    const tiny = zipSync({ "Dockerfile": strToU8("FROM x\n") });
    const signed = await api.signedUrl("POST", "push", {}, tiny);
    const evil = zipSync({ "../../escape": strToU8("x") });
    const bomb = zipSync({ "zeros": new Uint8Array(16 << 20) }, { level: 9 });
    const big = new Uint8Array(3 << 20).fill(7);
    const cases: [
      string,
      () => Promise<{ status: number; text: string }>,
      number,
    ][] = [
      ["tampered body", () =>
        send(signed, evil), 403],
      ["replayed token", async () => {
        const url = await api.signedUrl("POST", "push", {}, evil);
        await send(url, evil);
        return await send(url, evil);
      }, 403],
      ["expired token", async () => {
        const old = new URL(await api.signedUrl("POST", "push", {}, tiny));
        const t = Number(old.searchParams.get("token")!.split("-")[0]) - 60;
        const token = `${t}-abcdefgh`;
        old.searchParams.set("token", token);
        old.searchParams.set("sig1", await key.sign(strToU8(token)));
        return await send(old.toString(), tiny);
      }, 403],
      [
        "../ entries",
        async () => send(await api.signedUrl("POST", "push", {}, evil), evil),
        400,
      ],
      [
        "zip bomb",
        async () => send(await api.signedUrl("POST", "push", {}, bomb), bomb),
        413,
      ],
      [
        "oversized upload",
        async () => send(await api.signedUrl("POST", "push", {}, big), big),
        413,
      ],
    ];
    for (const [name, attempt, status] of cases) {
      const r = await attempt();
      assertEquals(r.status, status, `${name}: ${r.text}`);
    }
    client.close();
    assertEquals(
      (await httpsGet(host, httpsPort, ca)).body,
      `hello from ${service}\n`,
    );

    const audit = await Deno.readTextFile(`${data}/audit.log`);
    assertStringIncludes(audit, `"action":"deploy"`);
    assertStringIncludes(audit, `"service":"${service}"`);
    assertStringIncludes(audit, `"remote":"127.0.0.1"`);
  } catch (err) {
    console.error(daemon.output);
    throw err;
  } finally {
    await daemon.stop();
    await removeByLabel(`mypaas.owner=${network}`);
    await removeImages(`mypaas/${service}`);
    await removeImages(`mypaas/${broken}`);
    await docker(["network", "rm", network], { allowFail: true });
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
