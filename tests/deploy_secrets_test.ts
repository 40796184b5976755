/**
 * Env values never reach labels, images or progress lines; they live in
 * `<data_dir>/service_env` (0600) and come back from there (or from an
 * old-format label, or a container of the release) for recovery, rollback
 * and new replicas, each checked against the keyed spec hash.
 */
import { Deployer, LABEL } from "../lib/services/mod.ts";
import { hostKey } from "../lib/services/host_key.ts";
import {
  hasEnvPlaceholders,
  labelSpec,
  specFromLabels,
  specHash,
} from "../lib/services/labels.ts";
import {
  readReleaseEnv,
  releaseEnvPath,
  writeReleaseEnv,
} from "../lib/services/release_env.ts";
import { FakeRuntime } from "../lib/docker/mod.ts";
import { silentLogger } from "../lib/log.ts";
import { parseServiceSpec } from "../lib/spec/mod.ts";
import { assert, assertEquals } from "./_docker_contract.ts";
import {
  appDir,
  fakeProbe,
  makeSpec,
  RecordingTraffic,
  testConfig,
} from "./_deploy_fixture.ts";

const SECRET = "s3cret-from-config-9981";
const INLINE = "inline-tok-4471";

function secretSpec(secret = SECRET) {
  return makeSpec("web", {
    file: "/tmp/mypaas-upload-x1/Dockerfile",
    env: { EXAMPLE_SECRET: secret, INLINE_TOKEN: INLINE },
    scale: { strategy: "rolling", replicas: 2 },
  });
}

function assertNoValue(what: string, text: string) {
  for (const v of [SECRET, INLINE, "s3cret-two"]) {
    assert(!text.includes(v), `${what} holds the value ${v}: ${text}`);
  }
}

async function setup() {
  const dataDir = await Deno.makeTempDir({ prefix: "mypaas-secrets-" });
  const config = testConfig(dataDir);
  const runtime = new FakeRuntime();
  runtime.addImage("mypaas-test/busybox:1");
  const dir = await appDir();
  const make = () => {
    const traffic = new RecordingTraffic();
    return new Deployer({
      runtime,
      config,
      traffic,
      probe: fakeProbe(runtime),
      log: silentLogger,
      owner: config.docker.network,
      readyTimeoutMs: 300,
    });
  };
  return {
    dataDir,
    runtime,
    dir,
    make,
    /** Container name -> its env, for web's containers. */
    envs() {
      return Object.fromEntries(
        [...runtime.containers.values()]
          .filter((c) => c.labels[LABEL.service] === "web")
          .map((c) => [c.name, c.env]),
      );
    },
    /** Everything Docker holds as labels (images and containers). */
    async labelText() {
      const imgs = await runtime.listImages("mypaas/web");
      return JSON.stringify([
        ...imgs.map((i) => i.labels),
        ...[...runtime.containers.values()].map((c) => c.labels),
      ]);
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dataDir, { recursive: true });
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("labelSpec() keeps env names, drops values and the server's Dockerfile path", () => {
  const l = labelSpec(secretSpec(), "abc");
  assertEquals(l.envNames, ["EXAMPLE_SECRET", "INLINE_TOKEN"]);
  assertEquals(l.file, "Dockerfile");
  assertEquals(l.specHash, "abc");
  assert(!("env" in l));
  assertNoValue("the label spec", JSON.stringify(l));
  const back = specFromLabels({ [LABEL.spec]: JSON.stringify(l) })!;
  assertEquals(back.env, { EXAMPLE_SECRET: "", INLINE_TOKEN: "" });
  assertEquals(back.scale, secretSpec().scale);
  assert(hasEnvPlaceholders(back));
});

Deno.test("specHash() is keyed: a changed value or another host key changes it, the same spec does not", async () => {
  const d1 = await Deno.makeTempDir();
  const d2 = await Deno.makeTempDir();
  try {
    const k1 = await hostKey(d1);
    const k2 = await hostKey(d2);
    const h = await specHash(secretSpec(), k1);
    assertEquals(await specHash(secretSpec(), k1), h);
    assert(await specHash(secretSpec("s3cret-two"), k1) !== h);
    assert(await specHash(secretSpec(), k2) !== h);
    // the file path is not part of it
    assertEquals(
      await specHash({ ...secretSpec(), file: "Dockerfile" }, k1),
      h,
    );
    const st = await Deno.stat(`${d1}/env_hmac.key`);
    assertEquals(st.mode! & 0o777, 0o600);
    assertEquals(st.size, 32);
  } finally {
    await Deno.remove(d1, { recursive: true });
    await Deno.remove(d2, { recursive: true });
  }
});

Deno.test("release env files are 0600 in 0700 directories and read back", async () => {
  const d = await Deno.makeTempDir();
  try {
    await writeReleaseEnv(d, "web", 3, { A: "1" });
    assertEquals(await readReleaseEnv(d, "web", 3), { A: "1" });
    assertEquals(await readReleaseEnv(d, "web", 4), null);
    const mode = async (p: string) => (await Deno.stat(p)).mode! & 0o777;
    assertEquals(await mode(releaseEnvPath(d, "web", 3)), 0o600);
    assertEquals(await mode(`${d}/service_env`), 0o700);
    assertEquals(await mode(`${d}/service_env/web`), 0o700);
  } finally {
    await Deno.remove(d, { recursive: true });
  }
});

Deno.test("a deploy puts env values into the containers' create call only: labels and progress hold names", async () => {
  await using t = await setup();
  const lines: string[] = [];
  const res = await t.make().deploy(secretSpec(), t.dir, (l) => lines.push(l));
  assert(res.ok, res.error);
  assertNoValue("the progress", lines.join("\n"));
  const labels = await t.labelText();
  assertNoValue("the labels", labels);
  assert(!labels.includes("/tmp/mypaas-upload-x1"), labels);
  for (const env of Object.values(t.envs())) {
    assertEquals([env.EXAMPLE_SECRET, env.INLINE_TOKEN], [SECRET, INLINE]);
  }
  const st = await Deno.stat(releaseEnvPath(t.dataDir, "web", 1));
  assertEquals(st.mode! & 0o777, 0o600);
});

Deno.test("after a daemon restart, recovery recreates a lost replica with its env values", async () => {
  await using t = await setup();
  assert((await t.make().deploy(secretSpec(), t.dir, () => {})).ok);
  await t.runtime.remove("web-1-2", { force: true });
  const out = await t.make().recover();
  assertEquals(out.map((o) => [o.action, o.release]), [["finished", 1]]);
  const env = t.envs()["web-1-2"]!;
  assertEquals([env.EXAMPLE_SECRET, env.INLINE_TOKEN], [SECRET, INLINE]);
});

Deno.test("after a restart, a rollback gives the old release its own env values, then a rolling deploy the new ones", async () => {
  await using t = await setup();
  assert((await t.make().deploy(secretSpec(), t.dir, () => {})).ok);
  assert(
    (await t.make().deploy(secretSpec("s3cret-two"), t.dir, () => {})).ok,
  );
  const d = t.make();
  await d.recover();
  const lines: string[] = [];
  const back = await d.rollback("web", 1, (l) => lines.push(l));
  assert(back.ok, back.error);
  assertNoValue("the rollback progress", lines.join("\n"));
  assertEquals(
    Object.values(t.envs()).map((e) => e.EXAMPLE_SECRET),
    [SECRET, SECRET],
  );
  assert((await d.deploy(secretSpec("s3cret-two"), t.dir, () => {})).ok);
  assertEquals(
    Object.values(t.envs()).map((e) => e.EXAMPLE_SECRET),
    ["s3cret-two", "s3cret-two"],
  );
  assertNoValue("the labels", await t.labelText());
});

Deno.test("without the env file, values come from a container of the release, unless the keyed hash disagrees", async () => {
  await using t = await setup();
  assert((await t.make().deploy(secretSpec(), t.dir, () => {})).ok);
  const file = releaseEnvPath(t.dataDir, "web", 1);
  await Deno.remove(file);
  await t.runtime.remove("web-1-2", { force: true });
  await t.make().recover();
  assertEquals(t.envs()["web-1-2"]?.EXAMPLE_SECRET, SECRET);
  // read back and stored again
  assertEquals(
    (await readReleaseEnv(t.dataDir, "web", 1))?.INLINE_TOKEN,
    INLINE,
  );

  // a tampered file is not used; the sibling's values are
  await writeReleaseEnv(t.dataDir, "web", 1, {
    EXAMPLE_SECRET: "tampered",
    INLINE_TOKEN: INLINE,
  });
  await t.runtime.remove("web-1-1", { force: true });
  await t.make().recover();
  assertEquals(t.envs()["web-1-1"]?.EXAMPLE_SECRET, SECRET);
});

Deno.test("with no source of the values left, recreating a replica fails naming the release, not a value", async () => {
  await using t = await setup();
  assert((await t.make().deploy(secretSpec(), t.dir, () => {})).ok);
  await Deno.remove(releaseEnvPath(t.dataDir, "web", 1));
  for (const c of [...t.runtime.containers.values()]) {
    await t.runtime.remove(c.id, { force: true });
  }
  const d = t.make();
  const res = await d.rollback("web", 1, () => {}).catch((e: Error) => e);
  const msg = res instanceof Error ? res.message : res.error ?? "";
  assert(msg.includes("release 1 of web has no stored value"), msg);
  assertNoValue("the error", msg);
});

Deno.test("an old-format label (values inside) still brings its release back", async () => {
  await using t = await setup();
  const old = {
    ...secretSpec(),
    scale: { strategy: "recreate" as const, replicas: 0 },
  };
  t.runtime.addImage("mypaas/web:1", { [LABEL.spec]: JSON.stringify(old) });
  const d = t.make();
  // a second release to roll back from
  assert((await d.deploy(makeSpec("web"), t.dir, () => {})).ok);
  const res = await d.rollback("web", 1, () => {});
  assert(res.ok, res.error);
  assertEquals(t.envs()["web-1-1"]?.EXAMPLE_SECRET, SECRET);
});

Deno.test("a malformed env line names the problem without echoing the value", () => {
  for (
    const line of [
      `# mypaas.env=1BAD=${SECRET}`,
      `# mypaas.env=MY-VAR=${SECRET}`,
      `# mypaas.env=${SECRET} and more`,
    ]
  ) {
    let msg = "";
    try {
      parseServiceSpec(`FROM x\n# mypaas.service=a\n${line}\n`, {
        file: "Dockerfile",
        env: {},
        home: "/root",
      });
    } catch (err) {
      msg = (err as Error).message;
    }
    assert(msg.includes("Dockerfile:3: mypaas.env needs"), msg);
    assertNoValue("the error", msg);
  }
});

Deno.test("a release without env needs no stored values to come back", async () => {
  await using t = await setup();
  assert((await t.make().deploy(makeSpec("web"), t.dir, () => {})).ok);
  await Deno.remove(releaseEnvPath(t.dataDir, "web", 1));
  for (const c of [...t.runtime.containers.values()]) {
    await t.runtime.remove(c.id, { force: true });
  }
  const res = await t.make().rollback("web", 1, () => {});
  assert(res.ok, res.error);
  assertEquals(Object.keys(t.envs()), ["web-1-1"]);
});
