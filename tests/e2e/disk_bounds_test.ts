/**
 * What a daemon leaves on the disk stays bounded. Images: repeated pushes
 * keep `keep_releases` images of a service and leave no dangling image,
 * rollback targets stay, foreign images and volumes are untouched. Logs, on
 * the real engine, through a daemon started from
 * config.toml with `[docker] log_max_size = "100k"` and `log_max_files = 2`:
 * a chatty container (a busybox loop printing a bounded number of lines as
 * fast as it can) keeps at most about 2 x 100k of log files, while `server
 * logs --tail N` still shows the newest lines, read across the rotated file.
 * A `mypaas.logs` above `log_max_total` is refused (exit 2) naming the line
 * and the limit; one within it is applied and shown by `server list`.
 */
import { ControlClient } from "../../lib/api/control_client.ts";
import { assert, assertEquals } from "../_docker_contract.ts";
import { runMain } from "../_run_main.ts";
import { DaemonProcess } from "./_daemon.ts";
import {
  BUSYBOX_IMAGE,
  docker,
  ensureBusyboxImage,
  removeByLabel,
  removeImages,
  uniqueName,
} from "./_images.ts";

const KiB = 1024;
/** Lines the chatty container prints: about 5 MB of json-file log. */
const LINES = 40_000;
const PAD = "x".repeat(40);

async function logsEnv() {
  await ensureBusyboxImage();
  const dir = await Deno.makeTempDir({ prefix: "mypaas-logs-e2e-" });
  const network = uniqueName("mypaas-l");
  const service = uniqueName("chatty");
  const socket = `${dir}/ctl.sock`;
  const configFile = `${dir}/config.toml`;
  await Deno.writeTextFile(
    configFile,
    `[server]
data_dir = "${dir}/data"
keep_releases = 3
control_socket = "${socket}"
bind = "127.0.0.1"
http_port = 0
https_port = 0
[docker]
network = "${network}"
volume_root = "${dir}/volumes"
log_max_size = "100k"
log_max_files = 2
log_max_total = "1m"
[isolates]
min_workers = 0
`,
  );
  const daemon = new DaemonProcess(configFile);
  daemon.start();
  const client = new ControlClient(socket);
  await daemon.waitFor("the daemon to answer", async () => {
    await client.list();
    return true;
  });
  return {
    dir,
    service,
    daemon,
    /** Writes a Dockerfile app whose container prints `lines` lines and serves. */
    async app(
      name: string,
      comments: string[] = [],
      body = "hi",
      lines = LINES,
    ): Promise<string> {
      const app = `${dir}/${name}`;
      await Deno.mkdir(`${app}/www`, { recursive: true });
      await Deno.writeTextFile(`${app}/www/index.html`, body);
      const chatter =
        `i=0; while [ $i -lt ${lines} ]; do echo chatty line $i ${PAD}; i=$((i+1)); done; echo chatter-done`;
      await Deno.writeTextFile(
        `${app}/Dockerfile`,
        [
          `FROM ${BUSYBOX_IMAGE}`,
          `# mypaas.service=${name}`,
          ...comments.map((c) => `# mypaas.${c}`),
          "COPY www /www",
          "EXPOSE 80",
          `CMD ["sh", "-c", "(${chatter}) & exec httpd -f -p 80 -h /www"]`,
          "",
        ].join("\n"),
      );
      return app;
    },
    cli: (...args: string[]) => runMain([...args, "--config", configFile]),
    async [Symbol.asyncDispose]() {
      client.close();
      await daemon.stop();
      await removeByLabel(`mypaas.owner=${network}`);
      for (const s of [service, `${service}-big`, `${service}-huge`]) {
        await removeImages(`mypaas/${s}`);
      }
      await docker(["network", "rm", network], { allowFail: true });
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** The container's json-file log and its rotated files, with their sizes. */
async function logFiles(container: string): Promise<Map<string, number>> {
  const path = (await docker(["inspect", "-f", "{{.LogPath}}", container]))
    .stdout.trim();
  assert(path, `no LogPath for ${container}`);
  const dirName = path.slice(0, path.lastIndexOf("/"));
  const base = path.slice(path.lastIndexOf("/") + 1);
  const out = new Map<string, number>();
  for await (const e of Deno.readDir(dirName)) {
    if (e.name === base || e.name.startsWith(`${base}.`)) {
      out.set(e.name, (await Deno.stat(`${dirName}/${e.name}`)).size);
    }
  }
  return out;
}

Deno.test("e2e logs: a chatty container's log files stay under log_max_size x log_max_files, server logs --tail reads across the rotation", async () => {
  await using t = await logsEnv();
  const app = await t.app(t.service);
  const deploy = await t.cli("server", "deploy", app);
  assertEquals(deploy.code, 0, deploy.stderr + deploy.stdout);
  const container = `${t.service}-1-1`;
  await t.daemon.waitFor("the chatter to finish", async () => {
    const r = await t.cli("server", "logs", t.service, "--tail", "1");
    return r.stdout.includes("chatter-done");
  }, { timeoutMs: 120_000, intervalMs: 250 });

  const files = await logFiles(container);
  const total = [...files.values()].reduce((a, b) => a + b, 0);
  // Docker rotates once a write passes max-size: a file may exceed it by
  // one line at most
  const cap = 2 * (100 * KiB + 1024);
  assert(
    total <= cap,
    `log files ${JSON.stringify([...files])} hold ${total} bytes, above ${cap}`,
  );
  assert(files.size === 2, `a rotated file exists: ${[...files.keys()]}`);

  // more lines than the current file holds: the reader goes on into the
  // rotated one, and the lines are the newest, in order, none missing
  const current = [...files].find(([n]) => !/\.\d+$/.test(n))!;
  const inCurrent = Math.floor(current[1] / 100); // lines are > 100 bytes
  const want = inCurrent + 300;
  const tail = await t.cli("server", "logs", t.service, "--tail", String(want));
  assertEquals(tail.code, 0, tail.stderr);
  const lines = tail.stdout.trim().split("\n").map((l) =>
    l.slice(l.indexOf(" | ") + 3)
  );
  assertEquals(lines.length, want);
  assertEquals(lines.at(-1), "chatter-done");
  const numbers = lines.slice(0, -1).map((l) =>
    Number(/^chatty line (\d+) x+$/.exec(l)?.[1] ?? NaN)
  );
  numbers.forEach((n, i) =>
    assertEquals(n, LINES - numbers.length + i, `line ${i}: ${lines[i]}`)
  );

  const list = await t.cli("server", "list");
  assertEquals(list.code, 0, list.stderr);
  assert(list.stdout.includes("json-file:2x100k"), list.stdout);
});

Deno.test("e2e logs: mypaas.logs above log_max_total is refused with exit 2 naming the line and limit; within it, it is applied", async () => {
  await using t = await logsEnv();
  const huge = await t.app(`${t.service}-huge`, ["logs=600k 2"]);
  const refused = await t.cli("server", "deploy", huge);
  assertEquals(refused.code, 2, refused.stderr + refused.stdout);
  assert(
    refused.stderr.includes("Dockerfile:3: mypaas.logs asks for") &&
      refused.stderr.includes("1m ([docker] log_max_total"),
    refused.stderr,
  );
  assertEquals(
    (await docker(["ps", "-aq", "--filter", `name=${t.service}-huge`]))
      .stdout.trim(),
    "",
  );
  const big = await t.app(`${t.service}-big`, ["logs=300k 3"]);
  const ok = await t.cli("server", "deploy", big);
  assertEquals(ok.code, 0, ok.stderr + ok.stdout);
  const cfg = JSON.parse(
    (await docker([
      "inspect",
      "-f",
      "{{json .HostConfig.LogConfig}}",
      `${t.service}-big-1-1`,
    ])).stdout,
  );
  assertEquals(cfg, {
    Type: "json-file",
    Config: { "max-size": String(300 * KiB), "max-file": "3" },
  });
  const list = await t.cli("server", "list");
  assert(list.stdout.includes("json-file:3x300k"), list.stdout);
});

/** Images of `repo` as `repo:tag`, sorted. */
async function tags(repo: string): Promise<string[]> {
  const out = await docker([
    "images",
    repo,
    "--format",
    "{{.Repository}}:{{.Tag}}",
  ]);
  return out.stdout.split("\n").filter(Boolean).sort();
}

Deno.test("e2e images: 5 pushes keep keep_releases=3 images, none dangling; rollback needs no build; foreign images and volumes stay", async () => {
  await using t = await logsEnv();
  const foreign = `mypaas-test/foreign-${t.service}:1`;
  const volume = `${t.service}-foreign`;
  await docker(["tag", BUSYBOX_IMAGE, foreign]);
  await docker(["volume", "create", volume]);
  try {
    for (let n = 1; n <= 5; n++) {
      // a new layer each time: a 256 KiB file unique to the push
      const app = await t.app(t.service, [], `v${n}`, 0);
      const blob = new Uint8Array(256 * KiB);
      crypto.getRandomValues(blob.subarray(0, 65536));
      await Deno.writeFile(`${app}/www/blob`, blob);
      const r = await t.cli("server", "deploy", app);
      assertEquals(r.code, 0, r.stderr + r.stdout);
    }
    const repo = `mypaas/${t.service}`;
    assertEquals(await tags(repo), [`${repo}:3`, `${repo}:4`, `${repo}:5`]);
    // dangling images this service's builds left (other tests' are not ours)
    const dangling = (await docker([
      "images",
      "-q",
      "--no-trunc",
      "--filter",
      "dangling=true",
      "--filter",
      "label=mypaas.spec",
    ])).stdout.split("\n").filter(Boolean);
    for (const id of dangling) {
      const spec = (await docker([
        "inspect",
        "-f",
        '{{index .Config.Labels "mypaas.spec"}}',
        id,
      ], { allowFail: true })).stdout;
      assert(!spec.includes(`"${t.service}"`), `dangling image ${id} is ours`);
    }
    const rb = await t.cli("server", "rollback", t.service, "3");
    assertEquals(rb.code, 0, rb.stderr + rb.stdout);
    assert(rb.stdout.includes("(no build)"), rb.stdout);
    assertEquals(await tags(repo), [`${repo}:3`, `${repo}:4`, `${repo}:5`]);
    assertEquals(await tags(foreign.split(":")[0]!), [foreign]);
    assertEquals(
      (await docker(["volume", "ls", "-q", "--filter", `name=${volume}`]))
        .stdout.trim(),
      volume,
    );
  } finally {
    await docker(["rmi", foreign], { allowFail: true });
    await docker(["volume", "rm", volume], { allowFail: true });
  }
});
