import {
  ContainerPlatform,
  type FunctionSide,
} from "../lib/daemon/containers.ts";
import type { DeployResult } from "../lib/daemon/platform.ts";
import { FakeRuntime, RuntimeUnavailableError } from "../lib/docker/mod.ts";
import { makeLogger } from "../lib/log.ts";
import type { DeploySpec } from "../lib/spec/types.ts";
import { assert, assertEquals, assertRejects } from "./_docker_contract.ts";
import { appDir, fakeProbe, makeSpec, testConfig } from "./_deploy_fixture.ts";

async function setup(spec: DeploySpec = makeSpec("web")) {
  const dataDir = await Deno.makeTempDir({ prefix: "mypaas-platform-" });
  const runtime = new FakeRuntime();
  runtime.addImage("mypaas-test/busybox:1");
  const logged: string[] = [];
  const calls: string[] = [];
  const fnResult: DeployResult = {
    ok: true,
    service: "fn",
    kind: "function",
    release: 7,
  };
  const functions: FunctionSide = {
    has: (name) => name === "fn",
    deploy: (dir) => {
      calls.push(`deploy ${dir}`);
      return Promise.resolve(fnResult);
    },
    list: () =>
      Promise.resolve([{
        service: "fn",
        kind: "function",
        release: 7,
        urls: [],
        state: "idle",
        instances: [],
        releases: [7],
      }]),
    remove: (s) => {
      calls.push(`remove ${s}`);
      return Promise.resolve();
    },
    restart: (s) => {
      calls.push(`restart ${s}`);
      return Promise.resolve();
    },
    rollback: (s) => {
      calls.push(`rollback ${s}`);
      return Promise.resolve(fnResult);
    },
    logs: async function* () {
      yield "fn | hello";
    },
  };
  const platform = new ContainerPlatform(testConfig(dataDir), {
    log: makeLogger("t", "info", (l) => logged.push(l)),
    runtime,
    probe: fakeProbe(runtime),
    readyTimeoutMs: 300,
    readSpec: () => Promise.resolve(spec),
    functions,
  });
  return {
    runtime,
    platform,
    logged,
    calls,
    async [Symbol.asyncDispose]() {
      await platform.stop();
      await Deno.remove(dataDir, { recursive: true });
    },
  };
}

Deno.test("ContainerPlatform starts without Docker, fails container calls clearly, then recovers once Docker answers", async () => {
  await using t = await setup();
  t.runtime.down = true;
  await t.platform.start();
  assert(
    t.logged.some((l) => l.includes("WARN") && l.includes("unavailable")),
    t.logged.join("\n"),
  );
  const dir = await appDir();
  try {
    await assertRejects(
      () => t.platform.deploy(dir, {}, () => {}),
      RuntimeUnavailableError,
      "down",
    );
    // functions still list while Docker is down
    assertEquals((await t.platform.list()).map((s) => s.service), ["fn"]);
    t.runtime.down = false;
    const res = await t.platform.deploy(dir, {}, () => {});
    assertEquals([res.ok, res.kind, res.release], [true, "service", 1]);
    assert(t.logged.some((l) => l.includes("docker ready")));
    assertEquals((await t.platform.list()).map((s) => [s.service, s.kind]), [
      ["fn", "function"],
      ["web", "service"],
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ContainerPlatform sends function directories and function names to the function side", async () => {
  await using t = await setup();
  await t.platform.start();
  const noDockerfile = await Deno.makeTempDir();
  try {
    const res = await t.platform.deploy(noDockerfile, {}, () => {});
    assertEquals(res.kind, "function");
    await t.platform.restart("fn");
    await t.platform.rollback("fn", undefined, () => {});
    await t.platform.remove("fn");
    const logs: string[] = [];
    for await (const l of t.platform.logs("fn", { follow: false })) {
      logs.push(l);
    }
    assertEquals(logs, ["fn | hello"]);
    assertEquals(t.calls, [
      `deploy ${noDockerfile}`,
      "restart fn",
      "rollback fn",
      "remove fn",
    ]);
    await assertRejects(() => t.platform.restart("nope"), Error, "no service");
  } finally {
    await Deno.remove(noDockerfile, { recursive: true });
  }
});

Deno.test("a service may not take the name of a function", async () => {
  await using t = await setup(makeSpec("fn"));
  await t.platform.start();
  const dir = await appDir();
  try {
    await assertRejects(
      () => t.platform.deploy(dir, {}, () => {}),
      Error,
      "already a function deployment",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FROM x:latest is pulled; a failed pull uses the local image and says so", async () => {
  await using t = await setup();
  await t.platform.start();
  t.runtime.addImage("base:latest");
  const dir = await appDir();
  await Deno.writeTextFile(`${dir}/Dockerfile`, "FROM base:latest\n");
  const lines: string[] = [];
  try {
    const res = await t.platform.deploy(dir, {}, (l) => lines.push(l));
    assert(res.ok, res.error);
    assert(lines.includes("pulling base:latest"), lines.join("\n"));
    assert(
      lines.some((l) =>
        l.includes("pull of base:latest failed") &&
        l.endsWith("using the local image")
      ),
      lines.join("\n"),
    );
    await Deno.writeTextFile(`${dir}/Dockerfile`, "FROM nowhere:latest\n");
    const bad = await t.platform.deploy(dir, {}, () => {});
    assertEquals([bad.ok, bad.release], [false, 1]);
    assert(bad.error?.includes("cannot pull nowhere:latest"), bad.error);
    // a pinned tag is never pulled
    lines.length = 0;
    await Deno.writeTextFile(
      `${dir}/Dockerfile`,
      "FROM mypaas-test/busybox:1\n",
    );
    assert((await t.platform.deploy(dir, {}, (l) => lines.push(l))).ok);
    assert(!lines.some((l) => l.startsWith("pulling")), lines.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
