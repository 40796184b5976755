/**
 * @module
 * The one contract every `ContainerRuntime` keeps. `dockerContract()`
 * registers the same Deno.test cases for a runtime factory: the fake runs
 * them in tests/docker_fake_test.ts, the real engine in
 * tests/e2e/docker_test.ts.
 */
import {
  BuildError,
  type ContainerRuntime,
  type LogLine,
  type RuntimeEvent,
} from "../lib/docker/mod.ts";
import { assert, assertEquals, assertRejects } from "./_assert.ts";

export { assert, assertEquals, assertRejects };

/** What a contract run needs from its environment. */
export interface ContractEnv {
  runtime: ContainerRuntime;
  /** An image with busybox (`sh`, `sleep`, `echo`). */
  baseImage: string;
  /** Called after each test with the label every resource carried. */
  cleanup(label: string): Promise<void>;
}

/** Registers the contract cases under `name`. */
export function dockerContract(
  name: string,
  factory: () => Promise<ContractEnv>,
): void {
  const test = (
    title: string,
    fn: (env: ContractEnv, tag: string) => Promise<void>,
  ) =>
    Deno.test(`${name}: ${title}`, async () => {
      const env = await factory();
      const tag = `contract-${crypto.randomUUID().slice(0, 8)}`;
      try {
        await fn(env, tag);
      } finally {
        await env.cleanup(tag);
      }
    });
  const sleeper = (env: ContractEnv, tag: string, extra = "") => ({
    name: `${tag}-c${extra}`,
    image: env.baseImage,
    cmd: ["sh", "-c", "echo out; echo err >&2; sleep 30"],
    labels: { "mypaas-test": tag, "contract.role": "sleeper" },
  });

  test("ping answers", async ({ runtime }) => {
    await runtime.ping();
  });

  test("build tags the image and keeps its labels", async (env, tag) => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(
        `${dir}/Dockerfile`,
        `FROM ${env.baseImage}\nCOPY a.txt /a.txt\n`,
      );
      await Deno.writeTextFile(`${dir}/a.txt`, "a");
      const seen: string[] = [];
      const id = await env.runtime.build({
        dir,
        tag: `mypaas-test/${tag}:1`,
        labels: { "mypaas-test": tag, "x.y": "z" },
      }, (l) => seen.push(l));
      assert(id.startsWith("sha256:"), id);
      assert(seen.length > 0, "build streamed no lines");
      const img = await env.runtime.inspectImage(`mypaas-test/${tag}:1`);
      assertEquals(img?.id, id);
      assertEquals(img?.labels["x.y"], "z");
      const listed = await env.runtime.listImages(`mypaas-test/${tag}`);
      assertEquals(listed.map((i) => i.tags), [[`mypaas-test/${tag}:1`]]);
      await env.runtime.tagImage(id, `mypaas-test/${tag}`, "2");
      const two = await env.runtime.listImages(`mypaas-test/${tag}`);
      assertEquals(two[0]?.tags.sort(), [
        `mypaas-test/${tag}:1`,
        `mypaas-test/${tag}:2`,
      ]);
      await env.runtime.removeImage(`mypaas-test/${tag}:1`);
      await env.runtime.removeImage(`mypaas-test/${tag}:2`);
      assertEquals(
        await env.runtime.inspectImage(`mypaas-test/${tag}:2`),
        null,
      );
      await env.runtime.removeImage(`mypaas-test/${tag}:2`); // gone: no error
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  test(
    "a failed build throws BuildError with its last lines",
    async (env, tag) => {
      const dir = await Deno.makeTempDir();
      try {
        await Deno.writeTextFile(
          `${dir}/Dockerfile`,
          `FROM ${env.baseImage}\nRUN exit 3\n`,
        );
        const err = await assertRejects(
          () =>
            env.runtime.build({ dir, tag: `mypaas-test/${tag}:1` }, () => {}),
          BuildError,
        );
        assert(
          err.lastLines.some((l) => l.includes("exit 3")),
          err.lastLines.join("\n"),
        );
        assertEquals(
          await env.runtime.inspectImage(`mypaas-test/${tag}:1`),
          null,
        );
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  );

  test(
    "create applies env, labels, network, limits, log rotation and restart policy",
    async (env, tag) => {
      const net = `${tag}-net`;
      await env.runtime.ensureNetwork(net, { "mypaas-test": tag });
      await env.runtime.ensureNetwork(net); // idempotent
      try {
        const id = await env.runtime.create({
          ...sleeper(env, tag),
          env: { A: "1", B: "x=y" },
          network: net,
          cpus: 0.5,
          memory: 64 * 1024 * 1024,
          cpuReservation: 0.25,
          memoryReservation: 32 * 1024 * 1024,
          restart: "unless-stopped",
          mounts: [{ kind: "volume", source: `${tag}-vol`, target: "/data" }],
          publish: [{ hostPort: 0, containerPort: 8080, protocol: "tcp" }],
          log: { maxSize: 100 * 1024, maxFiles: 2 },
        });
        await env.runtime.start(id);
        const c = await env.runtime.inspect(id);
        assert(c);
        assertEquals(c.name, `${tag}-c`);
        assertEquals(c.running, true);
        assertEquals(c.state, "running");
        assertEquals(c.env.A, "1");
        assertEquals(c.env.B, "x=y");
        assertEquals(c.labels["contract.role"], "sleeper");
        assert(
          /^\d+\.\d+\.\d+\.\d+$/.test(c.ips[net] ?? ""),
          JSON.stringify(c.ips),
        );
        assertEquals(c.cpus, 0.5);
        assertEquals(c.memory, 64 * 1024 * 1024);
        assertEquals(c.cpuReservation, 0.25);
        assertEquals(c.memoryReservation, 32 * 1024 * 1024);
        assertEquals(c.restart, "unless-stopped");
        assertEquals(c.mounts.map((m) => [m.kind, m.source, m.target]), [[
          "volume",
          `${tag}-vol`,
          "/data",
        ]]);
        assertEquals(c.publish, [{
          hostPort: 0,
          containerPort: 8080,
          protocol: "tcp",
        }]);
        assert(c.startedAt > 0);
        assertEquals(c.log, {
          driver: "json-file",
          limits: { maxSize: 100 * 1024, maxFiles: 2 },
        });
        await env.runtime.remove(id, { force: true });
      } finally {
        await env.runtime.removeNetwork(net);
        await env.runtime.removeNetwork(net); // gone: no error
      }
    },
  );

  test("list, stop, rename and remove by label", async (env, tag) => {
    const a = await env.runtime.create(sleeper(env, tag, "a"));
    const b = await env.runtime.create({
      ...sleeper(env, tag, "b"),
      labels: { "mypaas-test": tag, "contract.role": "other" },
    });
    await env.runtime.start(a);
    const all = await env.runtime.list({ "mypaas-test": tag });
    assertEquals(all.map((c) => c.id).sort(), [a, b].sort());
    const sleepers = await env.runtime.list({
      "mypaas-test": tag,
      "contract.role": "sleeper",
    });
    assertEquals(sleepers.map((c) => c.name), [`${tag}-ca`]);
    assertEquals(sleepers[0]!.state, "running");
    assertEquals(
      (await env.runtime.list({ "mypaas-test": tag, "no.such": true })).length,
      0,
    );
    await env.runtime.stop(a, { timeoutS: 0 });
    await env.runtime.stop(a, { timeoutS: 0 }); // stopped: no error
    assertEquals((await env.runtime.inspect(a))?.state, "exited");
    await env.runtime.rename(a, `${tag}-renamed`);
    assertEquals((await env.runtime.inspect(`${tag}-renamed`))?.id, a);
    await env.runtime.start(a);
    await assertRejects(() => env.runtime.remove(a));
    await env.runtime.remove(a, { force: true });
    await env.runtime.remove(b);
    assertEquals(await env.runtime.inspect(a), null);
    await env.runtime.remove(a); // gone: no error
    assertEquals((await env.runtime.list({ "mypaas-test": tag })).length, 0);
  });

  test(
    "logs are demultiplexed into stdout and stderr lines",
    async (env, tag) => {
      const id = await env.runtime.create(sleeper(env, tag));
      await env.runtime.start(id);
      let got: LogLine[] = [];
      for (let i = 0; i < 100 && got.length < 2; i++) {
        got = [];
        for await (const l of env.runtime.logs(id, {})) got.push(l);
        if (got.length < 2) await new Promise((r) => setTimeout(r, 50));
      }
      got.sort((x, y) => x.stream < y.stream ? -1 : 1);
      assertEquals(got, [
        { stream: "stderr", line: "err" },
        { stream: "stdout", line: "out" },
      ]);
      const ctl = new AbortController();
      const followed: LogLine[] = [];
      for await (
        const l of env.runtime.logs(id, { follow: true, signal: ctl.signal })
      ) {
        followed.push(l);
        if (followed.length === 2) ctl.abort();
      }
      assertEquals(followed.length, 2);
      const tail: LogLine[] = [];
      for await (const l of env.runtime.logs(id, { tail: 1 })) tail.push(l);
      assertEquals(tail.length, 1);
      await env.runtime.remove(id, { force: true });
    },
  );

  test(
    "events report start and die of labelled containers, replayed with sinceMs",
    async (env, tag) => {
      // a second back: the engine's `since` has whole seconds
      const since = Date.now() - 1000;
      const id = await env.runtime.create(sleeper(env, tag));
      await env.runtime.start(id);
      await env.runtime.stop(id, { timeoutS: 0 });
      const ctl = new AbortController();
      const seen: RuntimeEvent[] = [];
      const timer = setTimeout(() => ctl.abort(), 10_000);
      for await (
        const e of env.runtime.events({ "mypaas-test": tag }, ctl.signal, {
          sinceMs: since,
        })
      ) {
        seen.push(e);
        if (e.action === "die") ctl.abort();
      }
      clearTimeout(timer);
      const actions = seen.filter((e) => e.id === id).map((e) => e.action);
      assert(actions.includes("start"), actions.join(","));
      assert(actions.includes("die"), actions.join(","));
      assertEquals(
        seen.find((e) => e.action === "start")?.labels["contract.role"],
        "sleeper",
      );
      await env.runtime.remove(id, { force: true });
    },
  );

  test("stats report memory of a running container", async (env, tag) => {
    const id = await env.runtime.create({
      ...sleeper(env, tag),
      memory: 32 * 1024 * 1024,
    });
    await env.runtime.start(id);
    const s = await env.runtime.stats(id);
    assertEquals(s.memoryLimit, 32 * 1024 * 1024);
    assert(s.cpuPct >= 0);
    await env.runtime.remove(id, { force: true });
  });
}
