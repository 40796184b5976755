/**
 * Issue 22 through the real daemon (`main.ts server run`, deploys over the
 * control socket, requests through its proxy), on the default pool size
 * (min_workers 4, max_workers 10): a deploy never fails for lack of an
 * isolate, and a request one at a time never gets 503 while an isolate
 * could be freed. Both reproduce the failures of the issue text.
 *
 * The host counts as over its CPU target here (cluster_cpu_pct_target =
 * 0.01): in the issue the load (wrk) left it there; on a shared test
 * machine it may or may not be, so the test fixes it. Then no isolate may
 * start above min_workers, and eviction is the only way to make room:
 * before the fix the 4th deploy after the load failed with "no isolate for
 * g4@1", and the 5th first request got 503 after 10 s. Loopback only.
 */
import { formatList } from "../../cmd/server_ctl.ts";
import { ControlClient } from "../../lib/api/control_client.ts";
import { formatStatus } from "../../lib/api/ops_routes.ts";
import type { DeploymentStatus } from "../../lib/daemon/platform.ts";
import { assert, assertEquals } from "../isolates_assert.ts";
import { DaemonProcess, freePort } from "./_daemon.ts";

/** A daemon on the default [isolates] but the CPU target, and a client. */
async function startDaemon(prefix: string) {
  const dir = await Deno.makeTempDir({ prefix });
  const port = freePort();
  const socket = `${dir}/ctl.sock`;
  await Deno.writeTextFile(
    `${dir}/config.toml`,
    `[server]
data_dir = "${dir}/data"
control_socket = "${socket}"
bind = "127.0.0.1"
http_port = ${port}
https_port = 0
[docker]
network = "mypaas-pool-e2e-${crypto.randomUUID().slice(0, 8)}"
[isolates]
cluster_cpu_pct_target = 0.01
`,
  );
  const daemon = new DaemonProcess(`${dir}/config.toml`);
  daemon.start();
  const client = new ControlClient(socket);
  await daemon.waitFor("the daemon", async () => {
    await client.list();
    return true;
  });
  /** Deploys a small function NAME (its answer names it). */
  async function deploy(name: string) {
    const src = await Deno.makeTempDir({ prefix: `mypaas-${name}-` });
    try {
      await Deno.writeTextFile(
        `${src}/main.ts`,
        `// mypaas.service=${name}
// mypaas.url=http://${name}.fn.test
export default { fetch: () => new Response("hi from ${name}") };
`,
      );
      const lines: string[] = [];
      const r = await client.deploy(
        src,
        { skipOptimize: true },
        (l) => lines.push(l),
      );
      return { ...r, lines };
    } finally {
      await Deno.remove(src, { recursive: true });
    }
  }
  /** One request to function NAME through the proxy. */
  async function get(name: string) {
    const res = await fetch(`http://127.0.0.1:${port}/`, {
      headers: { "x-deno-deploy-id": name },
    });
    return { status: res.status, text: await res.text() };
  }
  return {
    daemon,
    client,
    deploy,
    get,
    async close() {
      client.close();
      await daemon.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

const sum = (
  list: DeploymentStatus[],
  k: "evictions" | "queued" | "rejected",
) => list.reduce((n, s) => n + (s.pool?.[k] ?? 0), 0);

Deno.test("daemon: after a function was busy (32 clients), 200 deploys in a row all succeed", async () => {
  const d = await startDaemon("mypaas-pool-deploys-");
  try {
    const busy = await d.deploy("busy");
    assert(busy.ok, `${busy.error}\n${d.daemon.output}`);
    // 32 clients at once, 1600 requests (bounded), like wrk -c32
    let sent = 0;
    const statuses = new Map<number, number>();
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (sent < 1600) {
        sent++;
        const r = await d.get("busy");
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      }
    }));
    // the load is the setting, not what is tested (on a loaded test host
    // the CPU watchdog may stop an isolate starved of its pings)
    const load = JSON.stringify([...statuses]);
    assert((statuses.get(200) ?? 0) > 0, `no request served: ${load}`);
    for (let i = 1; i <= 200; i++) {
      const r = await d.deploy(`g${i}`);
      assert(
        r.ok,
        `deploy ${i} of 200 failed: ${r.error} (load: ${load})\n${
          r.lines.join("\n")
        }\n${d.daemon.output.slice(-3000)}`,
      );
    }
    const list = await d.client.list();
    assertEquals(list.length, 201);
    // room was made by evicting idle isolates, and the log says why
    assert(sum(list, "evictions") > 0, "no eviction counted");
    assert(
      /evicted iso-\d+ of \S+ \(idle [\d.]+s\) for g\d+@1: (host over its CPU\/memory target|max_workers reached|no standby left)/
        .test(d.daemon.output),
      "no eviction logged with its reason",
    );
    assertEquals(sum(list, "rejected"), 0);
    assertEquals(await d.get("g200"), { status: 200, text: "hi from g200" });
  } finally {
    await d.close();
  }
});

Deno.test("daemon: one request to each of 130 functions, one after another: none gets 503", async () => {
  const d = await startDaemon("mypaas-pool-first-");
  try {
    const names = Array.from({ length: 130 }, (_, i) => `f${i}`);
    for (const name of names) {
      const r = await d.deploy(name);
      assert(r.ok, `deploy of ${name} failed: ${r.error}`);
    }
    const failed: string[] = [];
    for (const name of names) {
      const r = await d.get(name);
      if (r.status !== 200 || r.text !== `hi from ${name}`) {
        failed.push(`${name}: ${r.status} ${r.text.trim()}`);
        break; // before the fix each 503 took queue_timeout (10 s)
      }
    }
    assertEquals(failed, []);
    const list = await d.client.list();
    assertEquals(sum(list, "rejected"), 0);
    assert(
      sum(list, "evictions") >= 120,
      `${sum(list, "evictions")} evictions`,
    );
    // `server list` and `status` show the counters
    const f0 = list.find((s) => s.service === "f0")!;
    assert(f0.pool!.evictions >= 1, JSON.stringify(f0));
    const status = formatStatus([f0]);
    assert(
      /isolate pool: [1-9]\d* evictions, \d+ requests queued, 0 got 503/
        .test(status),
      status,
    );
    const table = formatList([f0]).split("\n");
    assert(/EVICTED\s+QUEUED/.test(table[0]!), table[0]);
    const cols = table[1]!.split(/\s+/);
    assertEquals(cols[6], String(f0.pool!.evictions));
  } finally {
    await d.close();
  }
});
