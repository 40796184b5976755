/**
 * The function sandbox through a real daemon process (`server run` from a
 * config, functions pushed with the signed `POST /daemon/functions/NAME`):
 * a push importing /etc/passwd or a loopback server of this test fails with
 * the import named and the old release keeps serving, also after a restart;
 * a function's top-level code cannot read its neighbour's manifest (env
 * values) or bundle; and a loosened path under the data dir is named in a
 * warning when the daemon starts.
 */
import { ApiClient } from "../../lib/api/client.ts";
import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { DaemonProcess, signedDaemonDir } from "./_daemon.ts";
import { getWithHost } from "./_images.ts";

const SECRET = `tok-${crypto.randomUUID()}`;

const VICTIM = `// mypaas.url=http://victim.fn.test/
// mypaas.env=TOKEN=${SECRET}
export default { fetch: () => new Response("victim 1") };
`;

Deno.test("daemon: hostile imports fail the push and the old release serves; a neighbour's files are unreadable; loose modes are warned about", async () => {
  const { dir, port, key, config } = await signedDaemonDir(
    "mypaas-sandbox-e2e-",
    `[isolates]
min_workers = 1
max_workers = 3
cluster_cpu_pct_target = 1.0
cluster_memory_pct_target = 1.0
`,
  );
  const hits: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      hits.push(new URL(req.url).pathname);
      return new Response('export const leak = "LOOPBACK-LEAK";\n', {
        headers: { "content-type": "application/javascript" },
      });
    },
  );
  await using daemon = new DaemonProcess(config);
  const client = new ApiClient({ server: `http://127.0.0.1:${port}`, key });
  const up = async () => {
    daemon.start();
    await daemon.waitFor("the admin API", async () => {
      await client.time();
      return true;
    });
  };
  const push = async (name: string, source: string) => {
    const body = new TextEncoder().encode(source);
    const res = await fetch(
      await client.signedUrl("POST", `functions/${name}`, {}, body),
      { method: "POST", body },
    );
    return await res.text();
  };
  const victimServes = async (what: string) =>
    assertEquals(
      await getWithHost(port, "victim.fn.test", "/", 5000),
      { status: 200, body: "victim 1" },
      what,
    );
  try {
    await up();
    assertStringIncludes(await push("victim", VICTIM), "deploy ok release 1");
    await victimServes("after the first push");

    const hostile: [string, string][] = [
      [
        `import t from "/etc/passwd" with { type: "text" };`,
        `Requires read access to "/etc/passwd"`,
      ],
      [
        `import { leak as t } from "http://127.0.0.1:${server.addr.port}/m.js";`,
        `Requires import access to "127.0.0.1:${server.addr.port}"`,
      ],
    ];
    for (const [line, why] of hostile) {
      const out = await push(
        "victim",
        `// mypaas.url=http://victim.fn.test/
${line}
export default { fetch: () => new Response(String(t)) };
`,
      );
      assertStringIncludes(out, "mypaas: deploy failed:");
      assertStringIncludes(out, why);
      assert(!out.includes("root:"), out);
      await victimServes(`after refusing ${line}`);
    }
    assertEquals(hits, []);

    const manifest = `${dir}/data/functions/victim/releases/1/manifest.json`;
    const bundle =
      (JSON.parse(await Deno.readTextFile(manifest)) as { artifact: string })
        .artifact;
    assertStringIncludes(
      await push(
        "attacker",
        `// mypaas.url=http://attacker.fn.test/
const out = [];
for (const p of ${JSON.stringify([manifest, bundle])}) {
  try {
    out.push("READ " + Deno.readTextFileSync(p).slice(0, 200));
  } catch (err) {
    out.push("denied " + err.name);
  }
}
export default { fetch: () => new Response(out.join(" ")) };
`,
      ),
      "deploy ok release 1",
    );
    assertEquals(
      await getWithHost(port, "attacker.fn.test", "/", 5000),
      { status: 200, body: "denied NotCapable denied NotCapable" },
    );

    // A restart reads only the files: the refused pushes changed none.
    await daemon.stop();
    await Deno.chmod(manifest, 0o644);
    await up();
    await victimServes("after a restart");
    assertStringIncludes(daemon.output, "readable by others");
    assertStringIncludes(daemon.output, `${manifest} (0644)`);
  } finally {
    await daemon.stop();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
