/**
 * The serverless seed's API on a real daemon: `POST /daemon/functions/NAME`
 * with one signed source file deploys it, `DELETE` removes it; unsigned,
 * tampered and misnamed requests are refused and deploy nothing.
 */
import { ApiClient } from "../../lib/api/client.ts";
import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { DaemonProcess, signedDaemonDir } from "./_daemon.ts";
import { getWithHost } from "./_images.ts";

const SOURCE = `// mypaas.url=http://hi.fn.test/
let n = 0;
export default { fetch: () => new Response("hi " + ++n) };
`;

Deno.test("POST /daemon/functions/NAME deploys one signed file, DELETE removes it", async () => {
  const { dir, port, key, config } = await signedDaemonDir(
    "mypaas-fnapi-",
    `[isolates]
min_workers = 0
cluster_cpu_pct_target = 1.0
cluster_memory_pct_target = 1.0
`,
  );
  await using daemon = new DaemonProcess(config);
  daemon.start();
  const client = new ApiClient({ server: `http://127.0.0.1:${port}`, key });
  try {
    await daemon.waitFor("the admin API", async () => {
      await client.time();
      return true;
    });
    const body = new TextEncoder().encode(SOURCE);

    // Refusals first: nothing may be deployed by them.
    const tampered = await fetch(
      await client.signedUrl("POST", "functions/hi", {}, body),
      { method: "POST", body: SOURCE.replace("hi ", "pwned ") },
    );
    assertEquals(tampered.status, 403);
    await tampered.body?.cancel();
    const unsigned = await fetch(
      `http://127.0.0.1:${port}/daemon/functions/hi`,
      { method: "POST", body: SOURCE },
    );
    assertEquals(unsigned.status, 403);
    await unsigned.body?.cancel();
    const badName = await fetch(
      await client.signedUrl("POST", "functions/Bad_Name", {}, body),
      { method: "POST", body },
    );
    assertEquals(badName.status, 400);
    assertStringIncludes(await badName.text(), "Bad_Name");
    assertEquals((await getWithHost(port, "hi.fn.test"))?.status, 404);
    // Refusals the check knows before the stream are their 4xx: a spec
    // error names main.ts:N (not a temp path), the admin domain is the
    // daemon's.
    const refusedWith = async (source: string) => {
      const b = new TextEncoder().encode(source);
      const r = await fetch(
        await client.signedUrl("POST", "functions/hi", {}, b),
        { method: "POST", body: b },
      );
      return { status: r.status, text: await r.text() };
    };
    const specErr = await refusedWith(`// mypaas.publish=53:53\n${SOURCE}`);
    assertEquals(specErr.status, 400, specErr.text);
    assertStringIncludes(specErr.text, "main.ts:1:");
    assert(!specErr.text.includes("mypaas-fn-"), specErr.text);
    const adminUrl = await refusedWith(
      `// mypaas.url=http://127.0.0.1/\n${SOURCE}`,
    );
    assertEquals(adminUrl.status, 409, adminUrl.text);
    assertStringIncludes(adminUrl.text, "admin domain");

    const res = await fetch(
      await client.signedUrl("POST", "functions/hi", {}, body),
      { method: "POST", body },
    );
    assertEquals(res.status, 200);
    const text = await res.text();
    assertStringIncludes(text, "mypaas: deploy ok release 1");
    assertEquals(await getWithHost(port, "hi.fn.test", "/", 5000), {
      status: 200,
      body: "hi 1",
    });

    const del = await fetch(
      await client.signedUrl("DELETE", "functions/hi"),
      { method: "DELETE" },
    );
    assertEquals(del.status, 200);
    assertStringIncludes(await del.text(), "Removed hi");
    assertEquals((await getWithHost(port, "hi.fn.test"))?.status, 404);
    const audit = await Deno.readTextFile(`${dir}/data/audit.log`);
    assert(audit.includes('"action":"deploy"') && audit.includes('"hi"'));
  } finally {
    await daemon.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
