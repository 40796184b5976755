import assert from "node:assert/strict";
import { parse } from "smol-toml";
import {
  ConfigError,
  keyComment,
  type KeySchema,
  loadConfig,
  resolveConfig,
  restartKeys,
  SCHEMA,
  type SectionName,
} from "../lib/config/mod.ts";
import { InputError } from "../lib/errors.ts";

const HOME = "/home/op";
const resolve = (text: string) =>
  resolveConfig(text, { home: HOME, file: "config.toml" });

/** Asserts that `text` is refused with a message starting `config.toml:LINE:` and holding `expect`. */
function refuses(text: string, line: number, expect: string | RegExp) {
  assert.throws(() => resolve(text), (err: Error) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.ok(err instanceof InputError);
    assert.ok(
      err.message.startsWith(`config.toml:${line}: `),
      `${JSON.stringify(err.message)} is not on line ${line}`,
    );
    if (typeof expect === "string") {
      assert.ok(err.message.includes(expect), err.message);
    } else assert.match(err.message, expect);
    return true;
  });
}

Deno.test("resolveConfig() of empty text is the embedded defaults", () => {
  const c = resolveConfig("", { home: HOME });
  assert.equal(c.file, null);
  assert.equal(c.server.domain, "localhost");
  assert.equal(c.server.httpPort, 8080);
  assert.equal(c.server.httpsPort, 8443);
  assert.equal(c.server.dataDir, "/home/op/_mypaas");
  assert.equal(c.server.controlSocket, "/home/op/_mypaas/mypaas.sock");
  assert.equal(c.server.maxUpload, 100 * 1024 ** 2);
  assert.equal(c.docker.volumeRoot, "/home/op");
  assert.equal(c.proxy.upstreamTimeout, 60_000);
  assert.equal(c.isolates.minWorkers, 4);
  assert.equal(c.isolates.maxWorkers, 10);
  assert.equal(c.isolates.freePoolRatio, 0.5);
  assert.equal(c.isolates.idleTimeout, 60_000);
  assert.deepStrictEqual(c.isolates.allowNet, []);
  assert.equal(c.acme.caFile, "");
  assert.equal(c.cache.dir, "");
  assert.deepStrictEqual(c.env, {});
});

Deno.test("resolveConfig() converts durations and sizes", () => {
  const c = resolve(
    [
      "[proxy]",
      'max_body = "1.5M"',
      "max_header = 8192",
      'upstream_timeout = "500ms"',
      'drain_timeout = "2m"',
      "[isolates]",
      'idle_timeout = "1h"',
      'memory_limit = "64MiB"',
      "[cache]",
      'max_size = "2g"',
    ].join("\n"),
  );
  assert.equal(c.proxy.maxBody, Math.round(1.5 * 1024 ** 2));
  assert.equal(c.proxy.maxHeader, 8192);
  assert.equal(c.proxy.upstreamTimeout, 500);
  assert.equal(c.proxy.drainTimeout, 120_000);
  assert.equal(c.isolates.idleTimeout, 3_600_000);
  assert.equal(c.isolates.memoryLimit, 64 * 1024 ** 2);
  assert.equal(c.cache.maxSize, 2 * 1024 ** 3);
});

Deno.test("resolveConfig() expands ~ in paths with the given home", () => {
  const c = resolve(
    [
      "[server]",
      'data_dir = "~/paas"',
      'control_socket = "~"',
      "[acme]",
      'ca_file = "~/pebble.pem"',
      "[cache]",
      'dir = "/var/cache/mypaas"',
      "[docker]",
      'volume_root = "~other/x"',
    ].join("\n"),
  );
  assert.equal(c.server.dataDir, "/home/op/paas");
  assert.equal(c.server.controlSocket, "/home/op");
  assert.equal(c.acme.caFile, "/home/op/pebble.pem");
  assert.equal(c.cache.dir, "/var/cache/mypaas");
  assert.equal(c.docker.volumeRoot, "~other/x"); // only "~" and "~/" expand
});

Deno.test("resolveConfig() reads [env] as strings", () => {
  const c = resolve('[env]\nTOKEN = "abc"\nPORT = 8080\nDEBUG = true\n');
  assert.deepStrictEqual(c.env, { TOKEN: "abc", PORT: "8080", DEBUG: "true" });
  refuses(
    "[env]\nOK = 1\nBAD = [1, 2]\n",
    3,
    "[env] BAD must be a string, got an array",
  );
  refuses(
    "[env]\n\nNESTED = { a = 1 }\n",
    3,
    "[env] NESTED must be a string, got a table",
  );
});

Deno.test("resolveConfig() names the line of an unknown section or key", () => {
  refuses(
    "[server]\nhttp_port = 80\n\n[servre]\nx = 1\n",
    4,
    "unknown section [servre]; known: server, acme",
  );
  refuses(
    "# comment\n[server]\n\nhttp_prot = 80\n",
    4,
    `unknown key "http_prot" in [server]; known: domain, data_dir`,
  );
  refuses(
    '[acme]\nemail = "a@b.c"\n[proxy]\nmax_body = "1M"\ncolour = "red"\n',
    5,
    `unknown key "colour" in [proxy]`,
  );
  refuses(
    "# top\n\nlonely = 1\n[server]\n",
    3,
    `key "lonely" is outside any section`,
  );
  refuses("[server]\n'domian' = \"x\"\n", 2, `unknown key "domian"`);
  refuses(
    '[server]\ndomain = "x"\n[server.extra]\na = 1\n',
    3,
    `unknown key "extra" in [server]`,
  );
  refuses('[[server]]\ndomain = "x"\n', 1, "[server] must be a table");
});

Deno.test("resolveConfig() names the key and line of a wrong type", () => {
  refuses(
    '[server]\n\nhttp_port = "80"\n',
    3,
    `[server] http_port must be a port number from 0 to 65535, got "80"`,
  );
  refuses("[server]\nhttps_port = 70000\n", 2, "got number 70000");
  refuses(
    "[server]\nkeep_releases = -1\n",
    2,
    "[server] keep_releases must be a whole number >= 0",
  );
  refuses(
    "[server]\ndomain = 5\n",
    2,
    "[server] domain must be a string, got number 5",
  );
  refuses(
    "[acme]\nrenew_fraction = 1.5\n",
    2,
    "[acme] renew_fraction must be a number from 0 to 1",
  );
  refuses(
    "[proxy]\nupstream_timeout = 60\n",
    2,
    `must be a duration such as "500ms", "30s", "5m", got number 60`,
  );
  refuses(
    '[proxy]\nmax_body = "lots"\n',
    2,
    `[proxy] max_body must be a size such as "512K"`,
  );
  refuses(
    '[isolates]\nallow_net = "10.0.0.0/8"\n',
    2,
    "[isolates] allow_net must be an array of strings",
  );
  refuses(
    "[isolates]\nallow_net = [1]\n",
    2,
    "must be an array of strings, got an array",
  );
  refuses(
    "[docker]\nsocket = 1979-05-27\n",
    2,
    "[docker] socket must be a string, got a date",
  );
  refuses(
    "[isolates]\nmax_workers = 2\nmin_workers = 3\n",
    3,
    "min_workers (3) must not exceed max_workers (2)",
  );
});

Deno.test("resolveConfig() reports TOML syntax errors with their line", () => {
  refuses('[server]\ndomain = "x"\nhttp_port = \n', 3, "invalid TOML");
  refuses("[server]\nhttp_port = 1\nhttp_port = 2\n", 3, "invalid TOML");
});

Deno.test("loadConfig() uses defaults without a file, refuses a missing named file", async () => {
  const home = await Deno.makeTempDir({ prefix: "mypaas-config-" });
  try {
    const defaults = await loadConfig({ home });
    assert.equal(defaults.file, null);
    assert.equal(defaults.server.dataDir, `${home}/_mypaas`);
    const empty = await loadConfig({ home, envVar: "" });
    assert.equal(empty.file, null);
    for (
      const opts of [{ flag: `${home}/nope.toml` }, {
        envVar: `${home}/nope.toml`,
      }]
    ) {
      await assert.rejects(loadConfig({ home, ...opts }), (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /config file ".*nope\.toml" does not exist/);
        return true;
      });
    }
    await Deno.mkdir(`${home}/_mypaas`);
    await Deno.writeTextFile(
      `${home}/_mypaas/config.toml`,
      "[server]\nhttp_port = 81\n",
    );
    await Deno.writeTextFile(
      `${home}/other.toml`,
      "[server]\nhttp_port = 82\n",
    );
    await Deno.writeTextFile(`${home}/flag.toml`, "[server]\nhttp_port = 83\n");
    const atHome = await loadConfig({ home });
    assert.equal(atHome.server.httpPort, 81);
    assert.equal(atHome.file, `${home}/_mypaas/config.toml`);
    const viaEnv = await loadConfig({ home, envVar: `${home}/other.toml` });
    assert.equal(viaEnv.server.httpPort, 82);
    const viaFlag = await loadConfig({
      home,
      envVar: `${home}/other.toml`,
      flag: `${home}/flag.toml`,
    });
    assert.equal(viaFlag.server.httpPort, 83);
    await Deno.writeTextFile(`${home}/bad.toml`, "[server]\n\nport = 1\n");
    await assert.rejects(
      loadConfig({ home, flag: `${home}/bad.toml` }),
      new RegExp(`^ConfigError: ${home}/bad\\.toml:3: unknown key "port"`),
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

const EXAMPLE = new URL("../config.example.toml", import.meta.url);

Deno.test("config.example.toml lists exactly the keys of SCHEMA with their defaults", async () => {
  const text = await Deno.readTextFile(EXAMPLE);
  const raw = parse(text) as Record<string, Record<string, unknown>>;
  const { env, ...sections } = raw;
  assert.deepStrictEqual(Object.keys(sections), Object.keys(SCHEMA));
  for (const [section, keys] of Object.entries(SCHEMA)) {
    const written = sections[section]!;
    assert.deepStrictEqual(
      Object.keys(written),
      Object.keys(keys),
      `[${section}]`,
    );
    for (const [key, schema] of Object.entries(keys)) {
      const value = written[key];
      assert.deepStrictEqual(
        // a TOML table parses to a null-prototype object
        schema.type === "table" ? { ...(value as object) } : value,
        schema.default,
        `[${section}] ${key}`,
      );
    }
  }
  // above each key: the schema's doc, and "needs a restart" where it says
  let section = "";
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    section = /^\[(\w+)\]$/.exec(line)?.[1] ?? section;
    const key = /^([a-z0-9_]+) = /.exec(line)?.[1];
    if (key === undefined || section === "env") return;
    const schema = (SCHEMA as Record<string, Record<string, KeySchema>>)[
      section
    ]![key]!;
    assert.equal(
      lines[i - 1],
      `# ${keyComment(schema)}`,
      `[${section}] ${key}`,
    );
  });
  assert.ok(env && Object.keys(env).length > 0, "an [env] example");
  lines.forEach((line, i) => {
    if (
      /^[a-z_]+ = /.test(line) && !lines.slice(0, i).some((l) => l === "[env]")
    ) {
      assert.match(lines[i - 1]!, /^# \S/, `no explanation above ${line}`);
    }
  });
  const resolved = resolveConfig(text, { home: HOME });
  assert.equal(resolved.env.EXAMPLE_SECRET, "foobar");
});

Deno.test("README's Configuration section lists exactly the keys SCHEMA marks restart", async () => {
  const readme = await Deno.readTextFile(
    new URL("../README.md", import.meta.url),
  );
  const config = readme.slice(
    readme.indexOf("## Configuration"),
    readme.indexOf("\n## ", readme.indexOf("## Configuration") + 1),
  );
  const listed: Record<string, string[]> = {};
  for (const m of config.matchAll(/^- `\[(\w+)\] ([a-z0-9_, ]+)`$/gm)) {
    listed[m[1]!] = m[2]!.split(", ");
  }
  const marked: Record<string, string[]> = {};
  for (const section of Object.keys(SCHEMA) as SectionName[]) {
    const keys = restartKeys(section);
    if (keys.length) marked[section] = keys;
  }
  assert.deepStrictEqual(listed, marked);
});
