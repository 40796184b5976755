// deno-lint-ignore-file no-console
/**
 * Issue 11.3 end to end: a `roll 2` service serves under a bounded load loop
 * while `mypaas push` brings a release whose healthcheck never passes. The
 * new check must judge only the new replicas: every request during the
 * deploy is answered 2xx by the old release, the push exits 1 after the
 * rollback, and the old release still serves.
 */
import { assert, assertEquals, assertStringIncludes } from "../_push_assert.ts";
import {
  docker,
  ensureBusyboxImage,
  getWithHost,
  removeByLabel,
  removeImages,
  requireDocker,
  uniqueName,
  writeHttpdApp,
} from "./_images.ts";
import { DaemonProcess, freePort } from "./_daemon.ts";
import { runMain } from "../_run_main.ts";

Deno.test("e2e push: a release with a failing healthcheck never takes the serving release down; push exits 1 and the old release keeps serving", async () => {
  await requireDocker();
  await ensureBusyboxImage();
  const dir = await Deno.makeTempDir({ prefix: "mypaas-health-e2e-" });
  const network = uniqueName("mypaas-health");
  const service = uniqueName("roll");
  const data = `${dir}/data`;
  const home = `${dir}/home`;
  const port = freePort();
  const host = `${service}.localhost`;
  const daemon = new DaemonProcess(`${dir}/config.toml`);
  try {
    await Deno.mkdir(data, { recursive: true });
    await Deno.mkdir(home);
    await Deno.writeTextFile(
      `${dir}/config.toml`,
      `[server]
domain = "127.0.0.1"
data_dir = "${data}"
bind = "127.0.0.1"
http_port = ${port}
https_port = 0
control_socket = "${dir}/ctl.sock"
[docker]
network = "${network}"
volume_root = "${dir}/volumes"
[proxy]
drain_timeout = "200ms"
[isolates]
min_workers = 0
`,
    );
    const gen = await runMain(["key-gen"], { HOME: home });
    assertEquals(gen.code, 0, gen.stderr);
    const pub = gen.stdout.split("\n").find((l) =>
      l.startsWith("ed25519-pub-")
    );
    assert(pub, gen.stdout);
    await Deno.writeTextFile(`${data}/authorized_keys`, `${pub} e2e\n`);
    daemon.start();
    await daemon.waitFor(
      "the daemon API",
      async () =>
        (await getWithHost(port, "127.0.0.1", "/daemon/time"))?.status === 200,
    );
    const server = `http://127.0.0.1:${port}`;
    const push = (app: string) =>
      runMain(["push", server, app], { HOME: home });
    const comments = (check: string) => [
      `service=${service}`,
      `url=http://${host}/`,
      "scale=roll 2",
      `healthcheck=${check}`,
    ];

    const v1 = `${dir}/v1`;
    await writeHttpdApp(v1, {
      body: "v1",
      comments: comments("/health 1s 1s"),
    });
    const first = await push(v1);
    assertEquals(first.code, 0, `${first.stdout}\n${first.stderr}`);
    assertEquals((await getWithHost(port, host))?.body, "v1");

    // the load loop: sequential GETs until the push ends (bounded by it,
    // and by a hard cap of requests)
    let pushing = true;
    const bad: string[] = [];
    let ok = 0;
    const load = (async () => {
      for (let i = 0; pushing && i < 20_000; i++) {
        const r = await getWithHost(port, host, "/", 5000);
        if (r && r.status >= 200 && r.status < 300 && r.body === "v1") ok++;
        else bad.push(r ? `${r.status} ${r.body.slice(0, 40)}` : "no answer");
        await new Promise((res) => setTimeout(res, 20));
      }
    })();

    const v2 = `${dir}/v2`;
    await writeHttpdApp(v2, { body: "v2", comments: comments("/nope 1s 1s") });
    const second = await push(v2);
    pushing = false;
    await load;
    assertEquals(second.code, 1, `${second.stdout}\n${second.stderr}`);
    assertStringIncludes(second.stdout + second.stderr, "keeps serving");
    assertEquals(bad, [], `non-2xx during the deploy (${ok} were fine)`);
    assert(ok > 20, `the load loop ran: ${ok} requests`);
    console.log(`${ok} requests during the failed deploy, all 2xx from v1`);
    for (let i = 0; i < 4; i++) {
      const r = await getWithHost(port, host);
      assertEquals([r?.status, r?.body], [200, "v1"]);
    }
  } catch (err) {
    console.error(daemon.output);
    throw err;
  } finally {
    await daemon.stop();
    await removeByLabel(`mypaas.owner=${network}`);
    await removeImages(`mypaas/${service}`);
    await docker(["network", "rm", network], { allowFail: true });
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
