import { MemoryAudit } from "../lib/audit.ts";
import { auditedPlatform } from "../lib/daemon/audited_platform.ts";
import { createControlApp } from "../lib/api/control.ts";
import { FakePlatform } from "./_api_helpers.ts";
import { assertEquals } from "./_assert.ts";

Deno.test("the control socket audits local deploys, rollbacks, removals and restarts", async () => {
  const platform = new FakePlatform();
  const audit = new MemoryAudit();
  const app = createControlApp(auditedPlatform(platform, audit));
  const dir = await Deno.makeTempDir();
  try {
    const post = async (path: string, body: unknown) => {
      const res = await app.request(path, {
        method: "POST",
        body: JSON.stringify(body),
        headers: { "content-type": "application/json" },
      });
      await res.text();
      return res.status;
    };
    assertEquals(await post("/deploy", { dir }), 200);
    assertEquals(await post("/rollback", { service: "web", release: 2 }), 200);
    assertEquals(await post("/remove", { service: "web" }), 200);
    assertEquals(await post("/restart", { service: "web" }), 200);
    platform.result = new Error("build failed");
    await post("/deploy", { dir });
    assertEquals(
      audit.events.map((e) => [e.action, e.actor, e.service, e.result]),
      [
        ["deploy", "local", "web", "ok"],
        ["rollback", "local", "web", "ok"],
        ["remove", "local", "web", "ok"],
        ["restart", "local", "web", "ok"],
        ["deploy", "local", undefined, "failed"],
      ],
    );
    assertEquals(audit.events[0]!.release, 3);
    assertEquals(audit.events[4]!.error, "build failed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
