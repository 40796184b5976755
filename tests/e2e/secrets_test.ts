/**
 * Secrets never leave the daemon (issue 24): a real daemon from a
 * config.toml with `[env] EXAMPLE_SECRET`, a service with that bare name, an
 * inline value and a `--env` flag, and a function with env too, pushed with
 * the CLI as a user does. Then everything a user, an operator or another
 * tenant can read is searched for the values: the push output, every kept
 * image (`docker image inspect`, `docker history`), the daemon's log, the
 * audit log, `server list --json`, `status`, and every file under the data
 * dir that is not 0600. The containers and the function must still get
 * their values, also after a daemon restart, a lost replica and a rolling
 * deploy.
 */
import { assert, assertEquals } from "../_assert.ts";
import { runMain } from "../_run_main.ts";
import { DaemonProcess, freePort } from "./_daemon.ts";
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

const SECRET_1 = "srv-secret-8812-one";
const SECRET_2 = "srv-secret-9923-two";
const INLINE = "inline-tok-4471";
const FLAG = "flag-tok-3301";
const FN_INLINE = "fn-tok-5512";
const VALUES = [SECRET_1, SECRET_2, INLINE, FLAG, FN_INLINE];

/** Where each value was found in `text` (`what` names the place). */
function hits(what: string, text: string): string[] {
  return VALUES.filter((v) => text.includes(v)).map((v) => `${what}: ${v}`);
}

/** Every file under `root` whose mode is not 0600, with its text. */
async function looseFiles(root: string): Promise<[string, string][]> {
  const out: [string, string][] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile) {
        const mode = (await Deno.stat(p)).mode! & 0o777;
        if (mode !== 0o600) {
          out.push([`${p} (${mode.toString(8)})`, await Deno.readTextFile(p)]);
        }
      }
    }
  };
  await walk(root);
  return out;
}

function configToml(
  dir: string,
  port: number,
  network: string,
  secret: string,
) {
  return `[server]
domain = "127.0.0.1"
data_dir = "${dir}/data"
control_socket = "${dir}/ctl.sock"
bind = "127.0.0.1"
http_port = ${port}
https_port = 0
[docker]
network = "${network}"
volume_root = "${dir}/volumes"
[proxy]
drain_timeout = "200ms"
[isolates]
min_workers = 0
cluster_cpu_pct_target = 1.0
cluster_memory_pct_target = 1.0
[env]
EXAMPLE_SECRET = "${secret}"
`;
}

Deno.test("e2e secrets: env values reach the containers and the function, and nothing a user, operator or tenant reads holds them", async () => {
  await requireDocker();
  await ensureBusyboxImage();
  const dir = await Deno.makeTempDir({ prefix: "mypaas-secrets-e2e-" });
  const network = uniqueName("mypaas-sec");
  const service = uniqueName("sec");
  const fnName = uniqueName("secfn");
  const fnHost = `${fnName}.localhost`;
  const port = freePort();
  const home = `${dir}/home`;
  const data = `${dir}/data`;
  const configFile = `${dir}/config.toml`;
  const daemon = new DaemonProcess(configFile);
  const found: string[] = [];
  try {
    await Deno.mkdir(data, { recursive: true });
    await Deno.mkdir(home);
    await Deno.writeTextFile(
      configFile,
      configToml(dir, port, network, SECRET_1),
    );
    const gen = await runMain(["key-gen"], { HOME: home });
    assertEquals(gen.code, 0, gen.stderr);
    const pub = gen.stdout.split("\n").find((l) =>
      l.startsWith("ed25519-pub-")
    )!;
    await Deno.writeTextFile(`${data}/authorized_keys`, `${pub} e2e\n`);
    const server = `http://127.0.0.1:${port}`;
    const mypaas = (...args: string[]) => runMain(args, { HOME: home });
    const start = async () => {
      daemon.start();
      await daemon.waitFor("the daemon", async () => {
        const r = await fetch(`${server}/daemon/time`);
        await r.body?.cancel();
        return r.ok;
      });
    };
    await start();

    const app = `${dir}/app`;
    await writeHttpdApp(app, {
      body: "v1",
      comments: [
        `service=${service}`,
        `url=http://${service}.localhost`,
        "scale=roll 2",
        "healthcheck=/health 500ms 500ms",
        "env=EXAMPLE_SECRET",
        `env=INLINE_TOKEN=${INLINE}`,
      ],
    });
    const pushes: string[] = [];
    const push = async (...args: string[]) => {
      const r = await mypaas("push", server, ...args);
      pushes.push(r.stdout, r.stderr);
      assertEquals(r.code, 0, `${r.stdout}\n${r.stderr}\n${daemon.output}`);
    };
    await push(app, "--env", `PUSH_FLAG=${FLAG}`);

    const envOf = async (name: string) => {
      const env: string[] = JSON.parse(
        (await docker(["inspect", "-f", "{{json .Config.Env}}", name])).stdout,
      );
      return Object.fromEntries(env.map((e) => {
        const i = e.indexOf("=");
        return [e.slice(0, i), e.slice(i + 1)];
      }));
    };
    // values reach the containers through their create call
    for (const i of [1, 2]) {
      const env = await envOf(`${service}-1-${i}`);
      assertEquals(
        [env.EXAMPLE_SECRET, env.INLINE_TOKEN, env.PUSH_FLAG],
        [SECRET_1, INLINE, FLAG],
      );
    }

    // the function gets its env through its load message
    const fnDir = `${dir}/${fnName}`;
    await Deno.mkdir(fnDir);
    await Deno.writeTextFile(
      `${fnDir}/main.ts`,
      `// mypaas.url=http://${fnHost}
// mypaas.env=EXAMPLE_SECRET
// mypaas.env=FN_TOKEN=${FN_INLINE}
export default {
  fetch: () =>
    new Response(Deno.env.get("EXAMPLE_SECRET") + " " + Deno.env.get("FN_TOKEN")),
};
`,
    );
    await push(fnDir);
    assertEquals(await getWithHost(port, fnHost, "/", 10_000), {
      status: 200,
      body: `${SECRET_1} ${FN_INLINE}`,
    });

    // a daemon restart with a lost replica: recovery recreates it, with env
    await daemon.stop();
    await docker(["rm", "-f", `${service}-1-2`]);
    await start();
    await daemon.waitFor("the lost replica to come back", async () => {
      const env = await envOf(`${service}-1-2`);
      return env.EXAMPLE_SECRET === SECRET_1 && env.INLINE_TOKEN === INLINE &&
        env.PUSH_FLAG === FLAG;
    });

    // a changed value on the server redeploys (rolling) with the new value
    await daemon.stop();
    await Deno.writeTextFile(
      configFile,
      configToml(dir, port, network, SECRET_2),
    );
    await start();
    await writeHttpdApp(app, {
      body: "v2",
      comments: [
        `service=${service}`,
        `url=http://${service}.localhost`,
        "scale=roll 2",
        "healthcheck=/health 500ms 500ms",
        "env=EXAMPLE_SECRET",
        `env=INLINE_TOKEN=${INLINE}`,
      ],
    });
    await push(app, "--env", `PUSH_FLAG=${FLAG}`);
    for (const i of [1, 2]) {
      assertEquals((await envOf(`${service}-2-${i}`)).EXAMPLE_SECRET, SECRET_2);
    }
    assertEquals((await getWithHost(port, `${service}.localhost`))?.body, "v2");

    // --- the search ---
    found.push(...hits("push output", pushes.join("\n")));
    const refs = (await docker([
      "images",
      "--format",
      "{{.Repository}}:{{.Tag}}",
      `mypaas/${service}`,
    ])).stdout.split("\n").filter(Boolean);
    assert(refs.length >= 2, `kept images: ${refs.join(" ")}`);
    for (const ref of refs) {
      const inspect = (await docker(["image", "inspect", ref])).stdout;
      found.push(...hits(`docker image inspect ${ref}`, inspect));
      if (inspect.includes(dir)) {
        found.push(`docker image inspect ${ref}: a server path (${dir})`);
      }
      const history = (await docker(["history", "--no-trunc", ref])).stdout;
      found.push(...hits(`docker history ${ref}`, history));
    }
    const list = await runMain([
      "server",
      "list",
      "--json",
      "--config",
      configFile,
    ]);
    assertEquals(list.code, 0, list.stderr);
    assert(list.stdout.includes(service) && list.stdout.includes(fnName));
    found.push(...hits("server list --json", list.stdout));
    const status = await mypaas("status", server);
    assertEquals(status.code, 0, status.stderr);
    found.push(...hits("status", status.stdout + status.stderr));
    found.push(...hits("the daemon log", daemon.output));
    found.push(
      ...hits("the audit log", await Deno.readTextFile(`${data}/audit.log`)),
    );
    for (const [path, text] of await looseFiles(data)) {
      found.push(...hits(path, text));
    }
    assertEquals(found, [], `secret values found:\n${found.join("\n")}`);
  } finally {
    await daemon.stop();
    await removeByLabel(`mypaas.owner=${network}`);
    await removeImages(`mypaas/${service}`);
    await docker(["network", "rm", network], { allowFail: true });
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
