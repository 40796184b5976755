import { assert, assertEquals, assertNotEquals } from "./isolates_assert.ts";
import { call, ECHO, holdRequest, testPool } from "./isolates_helpers.ts";
import { denyNetList } from "../lib/isolates/net_policy.ts";

const COUNTER = `let n = 0;
export default { fetch: () => new Response(String(++n)) };`;

Deno.test("IsolatePool serves export default { fetch } and Deno.serve code", async () => {
  const t = await testPool();
  try {
    const a = await t.artifact(COUNTER);
    const b = await t.artifact(
      `Deno.serve((req) => new Response("serve " + new URL(req.url).pathname + " " + Deno.env.get("GREETING")));`,
      { GREETING: "hello" },
    );
    assertEquals(await call(t.pool, a), { status: 200, text: "1" });
    assertEquals(await call(t.pool, a), { status: 200, text: "2" });
    assertEquals(await call(t.pool, b, "/x"), {
      status: 200,
      text: "serve /x hello",
    });
  } finally {
    await t.close();
  }
});

Deno.test("IsolatePool hands the handler the client's URL, X-Forwarded-* headers and remoteAddr, unspoofable", async () => {
  const t = await testPool();
  try {
    const echo = await t.artifact(
      `export default { fetch: (req, info) => Response.json({
        url: req.url,
        method: req.method,
        remote: info.remoteAddr.hostname,
        headers: [...req.headers],
      }) };`,
    );
    const res = await t.pool.dispatch(
      echo,
      new Request("https://app.test:8443/a/b?x=1&y=%20", {
        method: "DELETE",
        headers: {
          "x-forwarded-for": "6.6.6.6",
          "x-request-id": "req-7",
          "connection": "keep-alive",
          "x-user": "u",
        },
      }),
      { clientIp: "192.0.2.7", requestId: "req-7" },
    );
    const seen = await res.json();
    assertEquals(seen.url, "https://app.test:8443/a/b?x=1&y=%20");
    assertEquals(seen.method, "DELETE");
    // the last X-Forwarded-For entry is the daemon's, not the client's
    assertEquals(seen.remote, "192.0.2.7");
    const h = new Map<string, string>(seen.headers);
    assertEquals(h.get("x-forwarded-for"), "6.6.6.6, 192.0.2.7");
    assertEquals(h.get("x-forwarded-proto"), "https");
    assertEquals(h.get("x-forwarded-host"), "app.test:8443");
    assertEquals(h.get("x-request-id"), "req-7");
    assertEquals(h.get("host"), "app.test:8443");
    assertEquals(h.get("x-user"), "u");
    assert(![...h.keys()].some((k) => k.startsWith("x-mypaas")));
  } finally {
    await t.close();
  }
});

Deno.test("IsolatePool refuses (400) a request whose URL would not fit a request line (a raw Host with blanks)", async () => {
  const t = await testPool();
  const fn = await t.artifact(
    `export default { fetch: () => new Response("ok") };`,
  );
  // Deno.serve keeps a raw Host in req.url ("http://a b/p"); the pool writes
  // that URL into the isolate's request line.
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => t.pool.dispatch(fn, req, { clientIp: "127.0.0.1" }),
  );
  try {
    const ask = async (host: string) => {
      const c = await Deno.connect({
        hostname: "127.0.0.1",
        port: server.addr.port,
      });
      await c.write(new TextEncoder().encode(
        `GET /p HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`,
      ));
      return (await new Response(c.readable).text()).slice(9, 12);
    };
    assertEquals(await ask("a b"), "400");
    assertEquals(await ask("a\tb"), "400");
    assertEquals(await ask("fn.test"), "200");
  } finally {
    await server.shutdown();
    await t.close();
  }
});

Deno.test("IsolatePool answers 504 past the wall-time limit and keeps serving", async () => {
  const t = await testPool({ wallLimitMs: 300 });
  try {
    const slow = await t.artifact(
      `let n = 0;
      export default { fetch: async (req) => {
        if (new URL(req.url).pathname === "/slow") {
          await new Promise((r) => setTimeout(r, 5000));
        }
        return new Response(String(++n));
      } };`,
    );
    const t0 = Date.now();
    assertEquals((await call(t.pool, slow, "/slow")).status, 504);
    const took = Date.now() - t0;
    assert(took >= 300 && took < 3000, `504 after ${took} ms`);
    assertEquals((await call(t.pool, slow, "/")).status, 200);
  } finally {
    await t.close();
  }
});

Deno.test("IsolatePool keeps the free ratio and stops idle isolates", async () => {
  const t = await testPool({
    idleTimeoutMs: 300,
    minWorkers: 2,
    maxWorkers: 6,
  });
  try {
    await t.pool.settled();
    assertEquals(t.pool.stats().total, 2);
    const targets = [];
    for (let i = 0; i < 8; i++) targets.push(await t.artifact(COUNTER));
    for (const target of targets) {
      assertEquals((await call(t.pool, target)).status, 200);
      await t.pool.settled();
      const s = t.pool.stats();
      assert(s.total <= 6, `total ${s.total} > max 6`);
      assert(
        s.free >= (s.free + s.assigned) * 0.5,
        `ratio broken: ${JSON.stringify(s)}`,
      );
    }
    assert(t.pool.stats().assigned > 0);
    const deadline = Date.now() + 10_000;
    while (t.pool.stats().assigned > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assertEquals(t.pool.stats().assigned, 0);
    // The first request after an idle shutdown cold-starts and works.
    assertEquals(await call(t.pool, targets[0]!), { status: 200, text: "1" });
  } finally {
    await t.close();
  }
});

Deno.test("IsolatePool gives each instance id its own isolate", async () => {
  const t = await testPool();
  try {
    const a = await t.artifact(COUNTER);
    const r1 = [];
    for (let i = 0; i < 3; i++) {
      r1.push((await call(t.pool, a, "/", "one")).text);
    }
    const r2 = (await call(t.pool, a, "/", "two")).text;
    assertEquals(r1, ["1", "2", "3"]);
    assertEquals(r2, "1");
    const ids = t.pool.isolates("fn1@1").map((i) => i.instanceId).sort();
    assertEquals(ids, ["one", "two"]);
    assertNotEquals(
      t.pool.isolates("fn1@1")[0]!.id,
      t.pool.isolates("fn1@1")[1]!.id,
    );
  } finally {
    await t.close();
  }
});

Deno.test("IsolatePool replaces a crashed worker process; in-flight gets 502", async () => {
  const t = await testPool({ isolatesPerProcess: 1 });
  try {
    const slow = await t.artifact(
      `export default { fetch: async (req) => {
        if (new URL(req.url).pathname === "/slow") await new Promise((r) => setTimeout(r, 5000));
        return new Response("done");
      } };`,
    );
    const fast = await t.artifact(COUNTER);
    assertEquals((await call(t.pool, fast)).status, 200);
    const pending = call(t.pool, slow, "/slow");
    let iso;
    const deadline = Date.now() + 5000;
    while (!(iso = t.pool.isolates("fn1@1")[0]) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await iso!.ready;
    // kill only once the request is in the isolate (one not yet sent is
    // retried elsewhere, rightly, and would answer 200)
    while (iso!.inflight < 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 200));
    iso!.proc.kill();
    assertEquals((await pending).status, 502);
    assertEquals(t.pool.restarts(slow.key), 1);
    assertEquals(t.pool.restarts(fast.key), 0);
    assertEquals(await call(t.pool, fast), { status: 200, text: "2" });
    assertEquals((await call(t.pool, slow, "/")).status, 200);
  } finally {
    await t.close();
  }
});

Deno.test("IsolatePool scales a busy deployment out and gives isolates back", async () => {
  const t = await testPool({
    concurrency: 1,
    idleTimeoutMs: 300,
    maxWorkers: 8,
    isolatesPerProcess: 4,
  });
  try {
    const slow = await t.artifact(
      `export default { fetch: async () => { await new Promise((r) => setTimeout(r, 300)); return new Response("ok"); } };`,
    );
    const results = await Promise.all(
      [1, 2, 3].map(() => call(t.pool, slow)),
    );
    assertEquals(results.map((r) => r.status), [200, 200, 200]);
    assert(
      t.pool.isolates("fn1@1").length >= 2,
      `only ${
        t.pool.isolates("fn1@1").length
      } isolate(s) for 3 concurrent requests`,
    );
    const deadline = Date.now() + 5000;
    while (t.pool.isolates("fn1@1").length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assertEquals(t.pool.isolates("fn1@1").length, 0);
  } finally {
    await t.close();
  }
});

Deno.test("IsolatePool starts no isolate above the host load target: it evicts an idle one instead; 503 only while every isolate is busy", async () => {
  let load = { cpu: 0, mem: 0 };
  const t = await testPool({
    minWorkers: 1,
    maxWorkers: 4,
    freePoolRatio: 0.5,
    queueTimeoutMs: 300,
    hostLoad: () => load,
    cpuPctTarget: 0.6,
  });
  try {
    assertEquals(t.pool.stats(), {
      total: 1,
      free: 1,
      assigned: 0,
      processes: 1,
    });
    const a = await t.artifact(COUNTER);
    const b = await t.artifact(ECHO);
    const c = await t.artifact(COUNTER);
    load = { cpu: 0.95, mem: 0.1 };
    assertEquals((await call(t.pool, a)).status, 200);
    await t.pool.settled();
    assertEquals(t.pool.stats().total, 1);
    // b has no isolate and none may start: a's idle one makes room
    const held = holdRequest(t.pool, b);
    await held.started;
    assertEquals(t.pool.counters(a.key).evictions, 1);
    assertEquals(t.pool.evictions()["host-load"], 1);
    assertEquals(t.pool.stats().total, 1);
    // b's only isolate has a request in flight: c waits, bounded, then 503
    const t0 = Date.now();
    const res = await t.pool.dispatch(c, new Request("http://fn.test/"), {
      clientIp: "127.0.0.1",
    });
    await res.body?.cancel();
    assertEquals([res.status, res.headers.get("retry-after")], [503, "1"]);
    assert(Date.now() - t0 >= 250, "503 came before the bounded wait");
    assertEquals(t.pool.counters(c.key), {
      evictions: 0,
      queued: 1,
      rejected: 1,
    });
    assertEquals(t.pool.counters(b.key).evictions, 0);
    assertEquals(await held.finish("done"), { status: 200, text: "done" });
    // nothing in flight: c evicts b's isolate and is served
    assertEquals(await call(t.pool, c), { status: 200, text: "1" });
    assertEquals(t.pool.stats().total, 1);
    load = { cpu: 0.1, mem: 0.1 };
    assertEquals(await call(t.pool, a), { status: 200, text: "1" });
  } finally {
    await t.close();
  }
});

Deno.test("IsolatePool honours a deployment's own idle timeout (mypaas.idle)", async () => {
  const t = await testPool({ idleTimeoutMs: 60_000 });
  try {
    const quick = { ...await t.artifact(COUNTER), idleMs: 200 };
    const slow = await t.artifact(COUNTER);
    assertEquals((await call(t.pool, quick)).status, 200);
    assertEquals((await call(t.pool, slow)).status, 200);
    const deadline = Date.now() + 5000;
    while (t.pool.isolates(quick.key).length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assertEquals(t.pool.isolates(quick.key).length, 0);
    assertEquals(t.pool.isolates(slow.key).length, 1);
  } finally {
    await t.close();
  }
});

Deno.test("IsolatePool: 64 concurrent requests leave the daemon's file I/O working", async () => {
  // Deno 2.9's unix-socket fetch client parks a blocking thread per
  // connection; past ~32 every async file operation hung. Guarded here.
  const t = await testPool({ concurrency: 64 });
  try {
    const a = await t.artifact(
      `export default { fetch: async () => { await new Promise((r) => setTimeout(r, 50)); return new Response("ok"); } };`,
    );
    const statuses = await Promise.all(
      Array.from({ length: 64 }, () => call(t.pool, a).then((r) => r.status)),
    );
    assertEquals(statuses.filter((s) => s !== 200).length, 0);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("file I/O hung")), 3000);
    });
    const dir = await Promise.race([Deno.makeTempDir(), hung]);
    clearTimeout(timer);
    await Deno.remove(dir);
  } finally {
    await t.close();
  }
});

Deno.test("IsolatePool counts abnormal isolate exits per deployment, not idle stops or retires", async () => {
  const t = await testPool({ idleTimeoutMs: 300, isolatesPerProcess: 1 });
  try {
    const spin = await t.artifact(
      `export default { fetch: (req) => {
        if (new URL(req.url).pathname === "/spin") for (;;) {}
        return new Response("ok");
      } };`,
    );
    const calm = await t.artifact(COUNTER);
    for (let n = 1; n <= 2; n++) {
      assertEquals((await call(t.pool, spin)).status, 200);
      assertEquals((await call(t.pool, spin, "/spin")).status, 500);
      assertEquals(t.pool.restarts(spin.key), n);
    }
    // An idle stop and a retire are not restarts.
    assertEquals((await call(t.pool, calm)).status, 200);
    const deadline = Date.now() + 5000;
    while (t.pool.isolates(calm.key).length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assertEquals(t.pool.isolates(calm.key).length, 0);
    assertEquals((await call(t.pool, calm)).status, 200);
    t.pool.retire(calm.key);
    assertEquals(t.pool.restarts(calm.key), 0);
    assertEquals(t.pool.restarts(spin.key), 2);
  } finally {
    await t.close();
  }
});

Deno.test("IsolatePool counts outbound fetches as activity for idle shutdown", async () => {
  let polls = 0, chunks = 0;
  // A loopback upstream: /poll answers after 250 ms (a long poll), /stream
  // sends a chunk every 100 ms for 1.5 s.
  const upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      if (new URL(req.url).pathname === "/poll") {
        await new Promise((r) => setTimeout(r, 250));
        polls++;
        return new Response("ok");
      }
      let n = 0;
      let timer: ReturnType<typeof setInterval>;
      return new Response(
        new ReadableStream<Uint8Array>({
          start(c) {
            timer = setInterval(() => {
              chunks++;
              c.enqueue(new TextEncoder().encode("x"));
              if (++n === 15) {
                clearInterval(timer);
                c.close();
              }
            }, 100);
          },
          cancel: () => clearInterval(timer),
        }),
      );
    },
  );
  const base = `http://127.0.0.1:${upstream.addr.port}`;
  const t = await testPool({
    idleTimeoutMs: 300,
    process: { denyNet: denyNetList(["127.0.0.1/32"]) },
  });
  try {
    // Each answers at once and keeps working outward in the background.
    const poller = await t.artifact(
      `export default { fetch() {
        (async () => { for (let i = 0; i < 6; i++) await (await fetch("${base}/poll")).text(); })();
        return new Response("polling");
      } };`,
    );
    const streamer = await t.artifact(
      `export default { fetch() {
        (async () => { for await (const _ of (await fetch("${base}/stream")).body) {} })();
        return new Response("streaming");
      } };`,
    );
    const quiet = await t.artifact(COUNTER);
    assertEquals((await call(t.pool, poller)).status, 200);
    assertEquals((await call(t.pool, streamer)).status, 200);
    assertEquals((await call(t.pool, quiet)).status, 200);
    const ids = [poller, streamer].map((d) => t.pool.isolates(d.key)[0]?.id);
    const start = Date.now();
    while (Date.now() - start < 1200) {
      await new Promise((r) => setTimeout(r, 50));
      for (const [i, d] of [poller, streamer].entries()) {
        assertEquals(t.pool.isolates(d.key)[0]?.id, ids[i]);
      }
    }
    // The quiet one was stopped meanwhile; the busy ones really were busy.
    assertEquals(t.pool.isolates(quiet.key).length, 0);
    assert(polls >= 4, `only ${polls} polls`);
    assert(chunks >= 10, `only ${chunks} chunks`);
    // Once their outbound work ends they go idle and are stopped too.
    const deadline = Date.now() + 5000;
    while (
      (t.pool.isolates(poller.key).length ||
        t.pool.isolates(streamer.key).length) && Date.now() < deadline
    ) await new Promise((r) => setTimeout(r, 50));
    assertEquals(t.pool.isolates(poller.key).length, 0);
    assertEquals(t.pool.isolates(streamer.key).length, 0);
  } finally {
    await t.close();
    await upstream.shutdown();
  }
});

Deno.test("IsolatePool drains a process whose isolate blew its CPU budget; the neighbour keeps answering", async () => {
  const t = await testPool({ isolatesPerProcess: 4, maxWorkers: 4 });
  try {
    const spin = await t.artifact(
      `export default { fetch: (req) => {
        if (new URL(req.url).pathname === "/spin") for (;;) {}
        return new Response("ok");
      } };`,
    );
    const calm = await t.artifact(COUNTER);
    assertEquals((await call(t.pool, calm)).status, 200);
    assertEquals((await call(t.pool, spin)).status, 200);
    const proc = t.pool.isolates(spin.key)[0]!.proc;
    assertEquals(t.pool.isolates(calm.key)[0]?.proc, proc);
    const spun = call(t.pool, spin, "/spin");
    let asked = 0;
    let done = false;
    void spun.finally(() => done = true);
    while (!done) {
      assertEquals((await call(t.pool, calm)).status, 200);
      asked++;
    }
    assertEquals((await spun).status, 500);
    // The stuck thread spins on after the kill (Deno 2.9.6): the process is
    // stopped once the neighbour moved off, which ends it.
    const pid = proc.pid!;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      proc.exited,
      new Promise((r) => timer = setTimeout(r, 5000)),
    ]);
    clearTimeout(timer);
    assert(proc.isExited, `process ${pid} still runs`);
    assert(asked > 0);
    assertEquals((await call(t.pool, calm)).status, 200);
    assertNotEquals(t.pool.isolates(calm.key)[0]?.proc.pid, pid);
    assertEquals(t.pool.restarts(spin.key), 1);
  } finally {
    await t.close();
  }
});
