/**
 * Bounded container logs without an engine: the `[docker] log_*` keys,
 * `mypaas.logs=SIZE COUNT`, `logLimits()` against `log_max_total`, the
 * container every deploy creates, and how `status`/`server list` show it.
 */
import assert from "node:assert/strict";
import { ConfigError, resolveConfig } from "../lib/config/mod.ts";
import {
  containerConfig,
  describeLog,
  logLimits,
} from "../lib/services/mod.ts";
import { Deployer } from "../lib/services/mod.ts";
import { FakeRuntime } from "../lib/docker/mod.ts";
import { formatStatus } from "../lib/api/ops_routes.ts";
import { formatList } from "../cmd/server_ctl.ts";
import { parseServiceSpec, SpecError } from "../lib/spec/mod.ts";
import { exitCodeFor } from "../cmd/_exit.ts";
import { silentLogger } from "../lib/log.ts";
import {
  appDir,
  fakeProbe,
  makeSpec,
  RecordingTraffic,
  testConfig,
} from "./_deploy_fixture.ts";

const KiB = 1024, MiB = 1024 ** 2;
const resolve = (text: string) =>
  resolveConfig(text, { home: "/home/op", file: "config.toml" });

Deno.test("[docker] log_max_size, log_max_files, log_max_total default to 10m, 3, 100m and read sizes", () => {
  const d = resolve("").docker;
  assert.deepStrictEqual(
    [d.logMaxSize, d.logMaxFiles, d.logMaxTotal],
    [10 * MiB, 3, 100 * MiB],
  );
  const c = resolve(
    `[docker]\nlog_max_size = "100k"\nlog_max_files = 2\nlog_max_total = 1048576\n`,
  ).docker;
  assert.deepStrictEqual(
    [c.logMaxSize, c.logMaxFiles, c.logMaxTotal],
    [100 * KiB, 2, MiB],
  );
});

for (
  const [text, line, expect] of [
    [
      `[docker]\nlog_max_size = "ten"`,
      2,
      `[docker] log_max_size must be a size`,
    ],
    [`[docker]\n\nlog_max_size = "512"`, 3, `must be at least "1k"`],
    [`[docker]\nlog_max_files = 0`, 2, `log_max_files must be from 1 to 100`],
    [
      `[docker]\nlog_max_files = "3"`,
      2,
      `log_max_files must be a whole number`,
    ],
    [`[docker]\nlog_max_files = 101`, 2, `must be from 1 to 100, got 101`],
    [
      `[docker]\nlog_max_size = "60m"\nlog_max_total = "100m"`,
      3,
      `log_max_total (104857600 bytes) must hold log_max_size x log_max_files (188743680 bytes)`,
    ],
  ] as const
) {
  Deno.test(`resolveConfig() refuses ${JSON.stringify(text)} naming key and line`, () => {
    assert.throws(() => resolve(text), (err: Error) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.ok(
        err.message.startsWith(`config.toml:${line}: `),
        err.message,
      );
      assert.ok(err.message.includes(expect), err.message);
      return true;
    });
  });
}

const spec = (text: string) =>
  parseServiceSpec(`# mypaas.service=web\n${text}`, {
    file: "Dockerfile",
    env: {},
    home: "/home/op",
  });

Deno.test("parseServiceSpec() reads mypaas.logs=SIZE COUNT with its line", () => {
  assert.deepStrictEqual(spec("# mypaas.logs=50m 5").logs, {
    maxSize: 50 * MiB,
    maxFiles: 5,
    line: 2,
  });
  assert.deepStrictEqual(spec("# mypaas.logs=1k   1").logs, {
    maxSize: KiB,
    maxFiles: 1,
    line: 2,
  });
  assert.equal(spec("FROM x").logs, undefined);
});

for (
  const [value, why] of [
    ["50m", `needs "SIZE COUNT"`],
    ["50m 5 6", `needs "SIZE COUNT"`],
    ["lots 5", "SIZE is like 512k"],
    ["512 2", "SIZE must be at least 1k"],
    ["50m 0", "COUNT runs from 1 to 100"],
    ["50m 101", "COUNT runs from 1 to 100"],
    ["50m -1", "COUNT runs from 1 to 100"],
    ["50m 2.5", "COUNT runs from 1 to 100"],
  ] as const
) {
  Deno.test(`parseServiceSpec() refuses mypaas.logs=${value}`, () => {
    assert.throws(() => spec(`# mypaas.logs=${value}`), (err: Error) => {
      assert.ok(err instanceof SpecError, String(err));
      assert.ok(
        err.message.startsWith("Dockerfile:2: mypaas.logs needs"),
        err.message,
      );
      assert.ok(err.message.includes(why), err.message);
      return true;
    });
  });
}

Deno.test("logLimits() is the config's rotation, or mypaas.logs within log_max_total", () => {
  const config = testConfig("/srv/mypaas");
  assert.deepStrictEqual(logLimits(makeSpec("w"), config), {
    maxSize: 10 * MiB,
    maxFiles: 3,
  });
  const within = makeSpec("w", {
    logs: { maxSize: 50 * MiB, maxFiles: 2, line: 4 },
  });
  assert.deepStrictEqual(logLimits(within, config), {
    maxSize: 50 * MiB,
    maxFiles: 2,
  });
});

Deno.test("logLimits() refuses a mypaas.logs above log_max_total: exit 2, names line and limit", () => {
  const config = testConfig("/srv/mypaas");
  const s = makeSpec("w", {
    file: "app/Dockerfile",
    logs: { maxSize: 50 * MiB, maxFiles: 5, line: 7 },
  });
  assert.throws(() => logLimits(s, config), (err: Error) => {
    assert.ok(err instanceof SpecError, String(err));
    assert.equal(exitCodeFor(err), 2);
    assert.equal(
      err.message,
      "app/Dockerfile:7: mypaas.logs asks for 5 file(s) of 50m = 250m, more than this host allows per container: 100m ([docker] log_max_total in config.toml); ask for less",
    );
    return true;
  });
});

Deno.test("containerConfig() gives the container the log rotation it is handed", () => {
  const c = containerConfig(makeSpec("w"), {
    name: "w-1-1",
    image: "mypaas/w:1",
    network: "n",
    labels: {},
    log: { maxSize: 100 * KiB, maxFiles: 2 },
  });
  assert.deepStrictEqual(c.log, { maxSize: 100 * KiB, maxFiles: 2 });
});

Deno.test("describeLog() says the driver and the rotation, or unbounded", () => {
  assert.equal(
    describeLog({
      driver: "json-file",
      limits: { maxSize: 10 * MiB, maxFiles: 3 },
    }),
    "json-file:3x10m",
  );
  assert.equal(
    describeLog({ driver: "json-file", limits: null }),
    "json-file:unbounded",
  );
});

Deno.test("status and server list show each container's log rotation", () => {
  const list = [{
    service: "web",
    kind: "service" as const,
    release: 2,
    urls: [],
    state: "running",
    instances: [
      { id: "web-2-1", state: "running", restarts: 0, log: "json-file:2x100k" },
    ],
    releases: [2],
  }];
  assert.match(
    formatStatus(list),
    /^ {2}web-2-1 running, log json-file:2x100k$/m,
  );
  assert.match(formatList(list), /LOG +URLS\n.*json-file:2x100k/);
});

Deno.test("a deploy creates its containers with the config's log rotation and refuses an oversized mypaas.logs", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "mypaas-logs-" });
  try {
    const config = testConfig(dataDir);
    const runtime = new FakeRuntime();
    runtime.addImage("mypaas-test/busybox:1");
    const deployer = new Deployer({
      runtime,
      config,
      traffic: new RecordingTraffic(),
      probe: fakeProbe(runtime),
      log: silentLogger,
      owner: config.docker.network,
      readyTimeoutMs: 300,
    });
    const dir = await appDir();
    const r = await deployer.deploy(makeSpec("w"), dir, () => {});
    assert.ok(r.ok, r.error);
    const [c] = [...runtime.containers.values()];
    assert.deepStrictEqual(c?.log, {
      driver: "json-file",
      limits: { maxSize: 10 * MiB, maxFiles: 3 },
    });
    const [status] = await deployer.list();
    assert.equal(status?.instances[0]?.log, "json-file:3x10m");
    const huge = makeSpec("w", {
      logs: { maxSize: 60 * MiB, maxFiles: 2, line: 3 },
    });
    await assert.rejects(
      () => deployer.deploy(huge, dir, () => {}),
      (err: Error) => {
        assert.ok(err instanceof SpecError, String(err));
        assert.match(err.message, /^Dockerfile:3: mypaas\.logs asks for/);
        return true;
      },
    );
    assert.equal(runtime.containers.size, 1, "nothing changed");
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
