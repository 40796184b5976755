// deno-lint-ignore-file no-console
/**
 * The proxy in front of real containers: 20 rolling deploys of a 2-replica
 * busybox httpd service, driven through the TrafficControl API exactly as a
 * rolling deploy does (start new, wait healthy, add, drain old, stop old),
 * under a steady bounded load on loopback. Counts every request: 0 lost.
 */
import assert from "node:assert/strict";
import {
  containerIp,
  createTestNetwork,
  docker,
  ensureBusyboxImage,
  removeByLabel,
  removeImages,
  TEST_LABEL,
  uniqueName,
  writeHttpdApp,
} from "./_images.ts";
import { spec, startProxy } from "../_proxy_helpers.ts";

async function waitHealthy(url: string): Promise<void> {
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    try {
      const res = await fetch(`${url}/health`, {
        signal: AbortSignal.timeout(500),
      });
      await res.body?.cancel();
      if (res.ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Container at ${url} did not become healthy in 20 s`);
}

Deno.test("e2e: 20 rolling deploys of 2 real containers lose 0 requests", async () => {
  await ensureBusyboxImage();
  const name = uniqueName("proxy-roll");
  const label = `${TEST_LABEL}=${name}`;
  const image = `mypaas-test/${name}:1`;
  const dir = await Deno.makeTempDir({ prefix: "proxy_roll_" });
  const net = await createTestNetwork("proxy-roll");
  const p = await startProxy();
  try {
    await writeHttpdApp(dir, { body: "ok" });
    await docker(["build", "-q", "--label", label, "-t", image, dir]);
    const run = async () => {
      const id = (await docker([
        "run",
        "-d",
        "--label",
        label,
        "--network",
        net.name,
        image,
      ])).stdout.trim();
      const ip = await containerIp(id, net.name);
      const url = `http://${ip}:80`;
      await waitHealthy(url);
      return { id, url };
    };
    const svc = spec("roll", ["http://127.0.0.1/"]);
    p.router.setService(svc);
    let replicas = [await run(), await run()];
    for (const r of replicas) p.router.addUpstream("roll", r);

    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const base = `http://127.0.0.1:${p.port}/`;
    const worker = async () => {
      while (!stop && ok + failures.length < 200_000) {
        try {
          const res = await fetch(base);
          const text = await res.text();
          if (res.status === 200 && text === "ok") ok++;
          else failures.push(`${res.status} ${text.slice(0, 40)}`);
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    const load = Promise.all([1, 2, 3, 4].map(worker));
    try {
      for (let d = 0; d < 20; d++) {
        const next = [];
        for (let i = 0; i < 2; i++) {
          const fresh = await run();
          next.push(fresh);
          p.router.setService(svc);
          p.router.addUpstream("roll", fresh);
          const old = replicas[i]!;
          await p.router.drainUpstream("roll", old.id, 5000);
          await docker(["rm", "-f", old.id]);
        }
        replicas = next;
      }
    } finally {
      stop = true;
      await load;
    }
    console.log(`e2e rolling: ${ok} requests, ${failures.length} lost`);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} lost`);
    assert.ok(ok > 500, `only ${ok} requests went through`);
  } finally {
    await p.stop();
    await removeByLabel(label);
    await net.remove();
    await removeImages(`mypaas-test/${name}`);
    await Deno.remove(dir, { recursive: true });
  }
});
