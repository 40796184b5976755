import { resolveConfig } from "../lib/config/mod.ts";
import { setKey } from "../cmd/server_init.ts";
import { assert, assertEquals, assertStringIncludes } from "./_push_assert.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const DENO_DIR = Deno.env.get("DENO_DIR") ??
  `${Deno.env.get("HOME") ?? "/root"}/.cache/deno`;

async function init(home: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "server", "init", ...args],
    env: { HOME: home, DENO_DIR, NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  assert(out.success, text);
  return text;
}

async function snapshot(paths: string[]) {
  const out: Record<string, string> = {};
  for (const p of paths) {
    const st = await Deno.stat(p);
    out[p] = `${st.mtime?.getTime()} ${st.mode! & 0o777} ${await Deno
      .readTextFile(p)}`;
  }
  return out;
}

Deno.test("server init --yes twice leaves identical files; the unit passes systemd-analyze verify", async () => {
  const home = await Deno.makeTempDir({ prefix: "mypaas_init_" });
  try {
    const unitDir = `${home}/units`;
    await init(home, "--yes", "--domain", "paas.test", "--unit-dir", unitDir);
    const files = [
      `${home}/_mypaas/config.toml`,
      `${home}/_mypaas/authorized_keys`,
      `${unitDir}/mypaas.service`,
    ];
    const first = await snapshot(files);
    const again = await init(home, "--yes", "--unit-dir", unitDir);
    assertEquals(await snapshot(files), first);
    assertEquals(again.match(/unchanged/g)?.length, 3, again);
    assertEquals((await Deno.stat(files[1]!)).mode! & 0o777, 0o600);
    const config = resolveConfig(await Deno.readTextFile(files[0]!), {
      home,
    });
    assertEquals(config.server.domain, "paas.test");
    assertEquals(config.server.httpPort, 80);
    assertEquals(config.server.httpsPort, 443);
    const unit = await Deno.readTextFile(files[2]!);
    assertStringIncludes(unit, "Restart=always");
    assertStringIncludes(unit, `server run --config ${files[0]}`);
    assertStringIncludes(unit, "NoNewPrivileges=true");
    assert(!unit.includes("PrivateDevices"), "would hide the docker socket");
    const verify = await new Deno.Command("systemd-analyze", {
      args: ["verify", files[2]!],
    }).output();
    const msg = new TextDecoder().decode(verify.stderr);
    assert(verify.success, `systemd-analyze verify failed: ${msg}`);
    assert(!msg.includes("mypaas.service:"), msg);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("server init keeps an edited config and [env], changing only flagged keys", async () => {
  const home = await Deno.makeTempDir({ prefix: "mypaas_init_" });
  try {
    await init(home, "--yes", "--no-systemd");
    const file = `${home}/_mypaas/config.toml`;
    const edited = (await Deno.readTextFile(file)) +
      '\n# my note\n[env]\nSECRET = "s3"\n';
    await Deno.writeTextFile(
      file,
      edited.replace("[env]\n# secrets", "# secrets"),
    );
    const before = await Deno.readTextFile(file);
    await init(home, "--yes", "--no-systemd", "--domain", "new.test");
    const after = await Deno.readTextFile(file);
    // Exactly one line was added (the domain was only commented before).
    assertEquals(after.replace('\ndomain = "new.test"', ""), before);
    assertStringIncludes(after, '[server]\ndomain = "new.test"\n');
    const config = resolveConfig(after, { home });
    assertEquals(config.env, { SECRET: "s3" });
    assertEquals(config.server.domain, "new.test");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("setKey() edits one line in its section or adds it", () => {
  const t = '[server]\nhttp_port = 80\n\n[acme]\n# email = ""\n';
  assertEquals(
    setKey(t, "acme", "email", "a@b.c"),
    '[server]\nhttp_port = 80\n\n[acme]\nemail = "a@b.c"\n# email = ""\n',
  );
  assertEquals(setKey(t, "server", "http_port", 80), t);
  assertStringIncludes(
    setKey(t, "docker", "network", "x"),
    '[docker]\nnetwork = "x"',
  );
});
