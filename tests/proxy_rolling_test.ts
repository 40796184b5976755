// deno-lint-ignore-file no-console
import assert from "node:assert/strict";
import {
  type Backend,
  spec,
  startBackend,
  startProxy,
} from "./_proxy_helpers.ts";

Deno.test("20 rolling deploys of a 2-replica service under load lose 0 requests", async () => {
  const p = await startProxy({ proxy: { drainTimeout: 5000 } });
  const svc = spec("roll", ["http://127.0.0.1/"], {
    healthcheck: { path: "/health", intervalMs: 50, timeoutMs: 500 },
  });
  let generation = 0;
  const start = (gen: number, i: number): Backend =>
    startBackend(`g${gen}-r${i}`, async (req) => {
      if (req.method === "POST") await req.text();
      // some requests stay in flight across the switch
      if (Math.random() < 0.2) await new Promise((r) => setTimeout(r, 20));
      return new Response(`g${gen}`);
    });
  p.router.setService(svc);
  let replicas = [start(0, 0), start(0, 1)];
  replicas.forEach((b) =>
    p.router.addUpstream("roll", { id: b.name, url: b.url })
  );

  let stop = false;
  let ok = 0;
  const failures: string[] = [];
  const base = `http://127.0.0.1:${p.port}`;
  const worker = async (w: number) => {
    // bounded: ends when the deploys end, or after 20000 requests anyway
    while (!stop && ok + failures.length < 20000) {
      const post = (ok + w) % 5 === 0;
      try {
        const res = await fetch(
          `${base}/x?w=${w}`,
          post ? { method: "POST", body: "payload" } : {},
        );
        const text = await res.text();
        if (res.status === 200 && text.startsWith("g")) ok++;
        else failures.push(`${res.status} ${text.slice(0, 40)}`);
      } catch (err) {
        failures.push(String(err));
      }
    }
  };
  const load = Promise.all([0, 1, 2, 3, 4, 5].map(worker));
  try {
    for (let d = 0; d < 20; d++) {
      generation++;
      const next: Backend[] = [];
      for (let i = 0; i < 2; i++) {
        // rolling: start new, add it (healthy), drain old, stop old
        const fresh = start(generation, i);
        next.push(fresh);
        p.router.setService(svc); // a redeploy republishes the spec
        p.router.addUpstream("roll", { id: fresh.name, url: fresh.url });
        // let traffic flow onto the new replica before retiring the old one
        const seen = ok;
        while (ok < seen + 25 && failures.length === 0) {
          await new Promise((r) => setTimeout(r, 2));
        }
        const old = replicas[i]!;
        await p.router.drainUpstream("roll", old.name, 5000);
        await old.close();
      }
      replicas = next;
    }
  } finally {
    stop = true;
    await load;
    await Promise.all(replicas.map((b) => b.close()));
    await p.stop();
  }
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} lost`);
  assert.ok(ok > 1000, `only ${ok} requests went through`);
  assert.equal(p.router.pool("roll")?.targets().length, 2);
  console.log(`rolling: ${ok} requests, ${failures.length} lost`);
});
