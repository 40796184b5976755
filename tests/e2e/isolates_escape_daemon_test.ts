/**
 * The escape suite through the real daemon process: a function deployed with
 * `POST /daemon/functions/NAME` tries to read files and the daemon's
 * environment, run programs, load native code, reach loopback (by address,
 * by `[::1]` and by a name resolving there), cloud metadata and a container
 * this test starts (its IP answers the test process, so the refusal is the
 * sandbox's, not an unreachable address), and to hog the CPU and the heap.
 * Each attempt is refused with a permission error or terminated (5xx); after
 * each one a neighbour function keeps counting (it was not restarted) and the
 * admin API answers.
 */
import { ApiClient } from "../../lib/api/client.ts";
import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { DaemonProcess, signedDaemonDir } from "./_daemon.ts";
import {
  BUSYBOX_IMAGE,
  docker,
  ensureBusyboxImage,
  getWithHost,
  TEST_LABEL,
  tryGet,
  uniqueName,
} from "./_images.ts";

const SECRET_NAME = "MYPAAS_ESCAPE_SECRET";
const SECRET = `s3cret-${crypto.randomUUID()}`;

const NEIGHBOUR = `// mypaas.url=http://neighbour.fn.test/
let n = 0;
export default { fetch: () => new Response("neighbour " + ++n) };
`;

// Each path tries one escape; "ESCAPED" in a body means the sandbox failed.
const ATTACKER = (o: { daemonPort: number; daemonPid: number; ip: string }) =>
  `// mypaas.url=http://attacker.fn.test/
// mypaas.env=GREETING
const attempts = {
  "/passwd": () => Deno.readTextFile("/etc/passwd"),
  "/self-environ": () => Deno.readTextFile("/proc/self/environ"),
  "/daemon-environ": () => Deno.readTextFile("/proc/${o.daemonPid}/environ"),
  "/command": () => new Deno.Command("/bin/sh", { args: ["-c", "env"] }).output(),
  "/dlopen": () => Deno.dlopen("libc.so.6", { getpid: { parameters: [], result: "i32" } }),
  "/loopback": () => fetch("http://127.0.0.1:${o.daemonPort}/"),
  "/ipv6-loopback": () => fetch("http://[::1]:${o.daemonPort}/"),
  "/metadata": () => fetch("http://169.254.169.254/latest/meta-data/"),
  "/container": () => fetch("http://${o.ip}/"),
  "/localhost": () => fetch("http://localhost:${o.daemonPort}/"),
};
export default {
  async fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/busy") { for (;;) {} }
    if (path === "/heap") { const a = []; for (;;) a.push(new Array(1e5).fill(a.length)); }
    // Deno.env is the function's own env (its spec's), not the process's.
    if (path === "/env-get") return new Response("env " + (Deno.env.get("${SECRET_NAME}") ?? "none"));
    if (path === "/env-all") return new Response("env " + JSON.stringify(Deno.env.toObject()));
    const attempt = attempts[path];
    if (!attempt) return new Response("no such attempt", { status: 404 });
    try {
      const out = await attempt();
      const text = out instanceof Response ? await out.text() : String(out);
      return new Response("ESCAPED " + text.slice(0, 200));
    } catch (err) {
      const cause = err.cause ? " (cause " + err.cause.name + ": " + err.cause.message + ")" : "";
      return new Response("refused " + err.name + ": " + err.message + cause, { status: 403 });
    }
  },
};
`;

/** Deno's refusal of a permission the worker processes were not given. */
const denied = (kind: string, what: string) =>
  new RegExp(
    `^refused (NotCapable|PermissionDenied): Requires ${kind} access to "?${
      what.replace(/[.[\]/]/g, "\\$&")
    }`,
  );

Deno.test("daemon: escapes from a function are refused or terminated; the daemon and a neighbour keep serving", async () => {
  await ensureBusyboxImage();
  const { dir, port, key, config } = await signedDaemonDir(
    "mypaas-escape-e2e-",
    `[isolates]
min_workers = 2
max_workers = 6
isolates_per_process = 2
memory_limit = "64M"
cpu_limit = "500ms"
wall_limit = "15s"
cluster_cpu_pct_target = 1.0
cluster_memory_pct_target = 1.0
[env]
GREETING = "hi"
`,
  );
  // A container of this test: its IP answers here, so a refusal from the
  // isolate is the sandbox's doing.
  const container = uniqueName("mypaas-escape");
  await docker([
    "run",
    "-d",
    "--name",
    container,
    "--label",
    `${TEST_LABEL}=escape`,
    BUSYBOX_IMAGE,
    "sh",
    "-c",
    "echo container-page > /www/index.html && exec httpd -f -p 80 -h /www",
  ]);
  await using daemon = new DaemonProcess(config, {
    [SECRET_NAME]: SECRET,
  });
  try {
    const ip = (await docker([
      "inspect",
      "-f",
      "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
      container,
    ])).stdout.trim();
    assert(/^\d+\.\d+\.\d+\.\d+$/.test(ip), `container IP: "${ip}"`);
    let page = null;
    for (let i = 0; i < 50 && page?.status !== 200; i++) {
      page = await tryGet(`http://${ip}/`);
      if (page?.status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assertEquals(page, { status: 200, body: "container-page\n" });

    const child = daemon.start();
    const client = new ApiClient({ server: `http://127.0.0.1:${port}`, key });
    await daemon.waitFor("the admin API", async () => {
      await client.time();
      return true;
    });
    // The secret is really in the daemon's environment.
    assertStringIncludes(
      await Deno.readTextFile(`/proc/${child.pid}/environ`),
      `${SECRET_NAME}=${SECRET}`,
    );

    const deploy = async (name: string, source: string) => {
      const body = new TextEncoder().encode(source);
      const res = await fetch(
        await client.signedUrl("POST", `functions/${name}`, {}, body),
        { method: "POST", body },
      );
      const text = await res.text();
      assertEquals(res.status, 200, text);
      assertStringIncludes(text, "mypaas: deploy ok release 1");
    };
    await deploy("neighbour", NEIGHBOUR);
    await deploy(
      "attacker",
      ATTACKER({ daemonPort: port, daemonPid: child.pid, ip }),
    );

    let count = 0;
    // `moved`: after a hog the neighbour may have been moved to a fresh
    // process (a CPU kill drains its process, since Deno 2.9.6 cannot
    // interrupt a Worker's running code; a sync heap bomb takes its process):
    // it must still answer, its count restarting at 1 only then.
    const stillServing = async (after: string, moved = false) => {
      count++;
      const got = await getWithHost(port, "neighbour.fn.test", "/", 5000);
      if (moved && got?.status === 200 && got.body === "neighbour 1") {
        count = 1;
      }
      assertEquals(
        got,
        { status: 200, body: `neighbour ${count}` },
        `neighbour after ${after}`,
      );
      const services = await client.request("GET", "services");
      assertEquals(services.status, 200, `admin API after ${after}`);
      const list = await services.json() as { service: string }[];
      assertEquals(
        list.map((s) => s.service).sort(),
        ["attacker", "neighbour"],
      );
    };
    await stillServing("the deploys");

    const attack = async (path: string, timeoutMs = 5000) => {
      const r = await getWithHost(port, "attacker.fn.test", path, timeoutMs);
      assert(r, `${path}: no answer`);
      assert(!r.body.includes("ESCAPED"), `${path}: ${r.body}`);
      assert(!r.body.includes(SECRET), `${path}: ${r.body}`);
      return r;
    };
    const refusals: [string, RegExp][] = [
      ["/passwd", denied("read", "/etc/passwd")],
      ["/self-environ", denied("read", "/proc/self/environ")],
      ["/daemon-environ", denied("read", `/proc/${child.pid}/environ`)],
      ["/command", denied("run", "/bin/sh")],
      ["/dlopen", denied("ffi", "libc.so.6")],
      ["/loopback", denied("net", `127.0.0.1:${port}`)],
      ["/ipv6-loopback", denied("net", `[::1]:${port}`)],
      ["/metadata", denied("net", "169.254.169.254:80")],
      ["/container", denied("net", `${ip}:80`)],
      // Refused after resolution: the resolved address is checked.
      [
        "/localhost",
        new RegExp(
          `^refused TypeError: fetch failed \\(cause .*Requires net access to "127\\.0\\.0\\.1:${port}"`,
        ),
      ],
    ];
    for (const [path, want] of refusals) {
      const r = await attack(path);
      assertEquals(r.status, 403, `${path}: ${r.body}`);
      assert(want.test(r.body), `${path}: ${r.body} does not match ${want}`);
      await stillServing(path);
    }

    // The function's env is its spec's, nothing of the daemon's.
    assertEquals(await attack("/env-get"), { status: 200, body: "env none" });
    await stillServing("/env-get");
    assertEquals(await attack("/env-all"), {
      status: 200,
      body: 'env {"GREETING":"hi"}',
    });
    await stillServing("/env-all");

    // Hogs are terminated: a 5xx, and the neighbour is untouched.
    const t0 = Date.now();
    const busy = await attack("/busy", 10_000);
    assert(busy.status >= 500, `busy loop answered ${busy.status}`);
    // Stopped by cpu_limit (500ms), well before wall_limit (15s).
    const busyMs = Date.now() - t0;
    assert(busyMs < 5000, `busy loop stopped after ${busyMs} ms`);
    await stillServing("/busy", true);
    const heap = await attack("/heap", 10_000);
    assert(heap.status >= 500, `heap bomb answered ${heap.status}`);
    await stillServing("/heap", true);
    // The attacker itself is back after a cold start, still sandboxed.
    const again = await attack("/passwd");
    assertEquals(again.status, 403, again.body);
    await stillServing("the attacker's cold start");
  } finally {
    await daemon.stop();
    await docker(["rm", "-f", container], { allowFail: true });
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
