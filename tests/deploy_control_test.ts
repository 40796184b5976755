import { ControlServer, createControlApp } from "../lib/api/control.ts";
import {
  ControlClient,
  DaemonNotRunningError,
} from "../lib/api/control_client.ts";
import type {
  DeploymentStatus,
  DeployOptions,
  DeployResult,
  Platform,
} from "../lib/daemon/platform.ts";
import { InputError, NotFoundError } from "../lib/errors.ts";
import { silentLogger } from "../lib/log.ts";
import { assert, assertEquals, assertRejects } from "./_docker_contract.ts";

/** A Platform that records calls and answers from a script. */
class ScriptedPlatform implements Platform {
  calls: string[] = [];
  deploy(
    dir: string,
    _opts: DeployOptions,
    progress: (line: string) => void,
  ): Promise<DeployResult> {
    this.calls.push(`deploy ${dir}`);
    if (dir.endsWith("/bad")) {
      return Promise.reject(new InputError("Dockerfile:3: bad mypaas.scale"));
    }
    progress("building");
    progress("started web-1-1");
    const ok = !dir.endsWith("/fails");
    return Promise.resolve({
      ok,
      service: "web",
      kind: "service",
      release: ok ? 2 : 1,
      ...(ok ? {} : { error: "web-2-1 is not ready" }),
    });
  }
  list(): Promise<DeploymentStatus[]> {
    return Promise.resolve([{
      service: "web",
      kind: "service",
      release: 2,
      urls: [],
      state: "running",
      instances: [{ id: "web-2-1", state: "running", restarts: 1 }],
      releases: [2, 1],
    }]);
  }
  remove(service: string): Promise<void> {
    this.calls.push(`remove ${service}`);
    return service === "web"
      ? Promise.resolve()
      : Promise.reject(new NotFoundError(`no service named "${service}"`));
  }
  restart(service: string): Promise<void> {
    this.calls.push(`restart ${service}`);
    return Promise.resolve();
  }
  rollback(
    service: string,
    release: number | undefined,
    progress: (line: string) => void,
  ): Promise<DeployResult> {
    this.calls.push(`rollback ${service} ${release}`);
    progress("rolling back");
    return Promise.resolve({
      ok: true,
      service,
      kind: "service",
      release: release ?? 1,
    });
  }
  async *logs(
    service: string,
    opts: { follow: boolean; signal?: AbortSignal },
  ): AsyncIterable<string> {
    if (service !== "web") {
      throw new NotFoundError(`no service named "${service}"`);
    }
    yield "web-2-1 | one";
    yield "web-2-1 | two";
    if (!opts.follow) return;
    await new Promise<void>((r) =>
      opts.signal?.addEventListener("abort", () => r())
    );
  }
}

Deno.test("control app streams deploy progress as NDJSON, then the result", async () => {
  const app = createControlApp(new ScriptedPlatform());
  const res = await app.request("/deploy", {
    method: "POST",
    body: JSON.stringify({ dir: "/apps/web" }),
  });
  assertEquals(res.status, 200);
  const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
  assertEquals(lines, [
    { line: "building" },
    { line: "started web-1-1" },
    { result: { ok: true, service: "web", kind: "service", release: 2 } },
  ]);
});

Deno.test("control app answers 400 for a relative dir and 404 for an unknown service", async () => {
  const app = createControlApp(new ScriptedPlatform());
  const bad = await app.request("/deploy", {
    method: "POST",
    body: JSON.stringify({ dir: "apps/web" }),
  });
  assertEquals(bad.status, 400);
  const gone = await app.request("/remove", {
    method: "POST",
    body: JSON.stringify({ service: "nope" }),
  });
  assertEquals(gone.status, 404);
  assertEquals(await gone.json(), { error: 'no service named "nope"' });
});

Deno.test("ControlClient over a real Unix socket: deploy, failed deploy, bad input, list, rollback, logs", async () => {
  const dir = await Deno.makeTempDir();
  const socket = `${dir}/sub/ctl.sock`;
  const platform = new ScriptedPlatform();
  const server = new ControlServer(socket, platform, silentLogger);
  await server.start();
  const client = new ControlClient(socket);
  try {
    assertEquals((await Deno.stat(socket)).mode! & 0o777, 0o600);
    const seen: string[] = [];
    const ok = await client.deploy("/apps/web", {}, (l) => seen.push(l));
    assertEquals([ok.ok, ok.release, seen], [true, 2, [
      "building",
      "started web-1-1",
    ]]);
    const failed = await client.deploy("/apps/fails", {}, () => {});
    assertEquals([failed.ok, failed.release, failed.error], [
      false,
      1,
      "web-2-1 is not ready",
    ]);
    const err = await assertRejects(
      () => client.deploy("/apps/bad", {}, () => {}),
      InputError,
      "bad mypaas.scale",
    );
    assertEquals(err.status, 400);
    assertEquals((await client.list())[0]?.instances[0]?.restarts, 1);
    const rb = await client.rollback("web", 1, () => {});
    assertEquals(rb.release, 1);
    await client.restart("web");
    await assertRejects(() => client.remove("nope"), InputError, "no service");
    const logs: string[] = [];
    await client.logs("web", {}, (l) => logs.push(l));
    assertEquals(logs, ["web-2-1 | one", "web-2-1 | two"]);
    const ctl = new AbortController();
    const followed: string[] = [];
    await client.logs("web", { follow: true, signal: ctl.signal }, (l) => {
      followed.push(l);
      if (followed.length === 2) ctl.abort();
    });
    assertEquals(followed.length, 2);
    await assertRejects(
      () => client.logs("nope", {}, () => {}),
      InputError,
      "no service",
    );
    assertEquals(platform.calls, [
      "deploy /apps/web",
      "deploy /apps/fails",
      "deploy /apps/bad",
      "rollback web 1",
      "restart web",
      "remove nope",
    ]);
  } finally {
    client.close();
    await server.stop();
    await server.stop(); // idempotent
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ControlClient says no daemon listens when the socket is missing or stale", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const client = new ControlClient(`${dir}/none.sock`);
    const err = await assertRejects(() => client.list(), DaemonNotRunningError);
    assert(
      err.message.includes("start it with `mypaas server run`"),
      err.message,
    );
    client.close();
    // a stale socket file is replaced by a new server
    const l = Deno.listen({ transport: "unix", path: `${dir}/stale.sock` });
    l.close();
    const server = new ControlServer(
      `${dir}/stale.sock`,
      new ScriptedPlatform(),
      silentLogger,
    );
    await server.start();
    const c2 = new ControlClient(`${dir}/stale.sock`);
    assertEquals((await c2.list()).length, 1);
    c2.close();
    // a second server on a live socket refuses to start
    const second = new ControlServer(
      `${dir}/stale.sock`,
      new ScriptedPlatform(),
      silentLogger,
    );
    await assertRejects(() => second.start(), Error, "another mypaas daemon");
    await server.stop();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("control app sends the headers of a followed log at once, even before a line", async () => {
  const quiet: Platform = {
    ...new ScriptedPlatform(),
    logs: async function* (_s: string, opts: { signal?: AbortSignal }) {
      await new Promise<void>((r) =>
        opts.signal?.addEventListener("abort", () => r())
      );
      yield* [];
    },
  } as unknown as Platform;
  const app = createControlApp(quiet);
  const start = Date.now();
  const res = await app.request("/logs?service=web&follow=1");
  assertEquals(res.status, 200);
  assert(Date.now() - start < 2000);
  await res.body?.cancel();
});
