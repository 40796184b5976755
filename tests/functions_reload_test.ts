/**
 * The function side reads `[server] keep_releases` per deploy, so a reload
 * (which updates the shared config in place, as Daemon.reload does) applies
 * to the next deploy.
 */
import { assertEquals } from "./isolates_assert.ts";
import { fixtureCopy, testFunctions } from "./functions_helpers.ts";

Deno.test("function deploys prune to a reloaded keep_releases", async () => {
  const t = await testFunctions({
    isolates: "min_workers = 0\nmax_workers = 2",
  });
  const app = await fixtureCopy("hello");
  try {
    for (let i = 0; i < 2; i++) {
      const r = await t.platform.deploy(app, {}, () => {});
      assertEquals(r.ok, true);
    }
    assertEquals(await t.platform.store.releases("hello"), [2, 1]);
    t.config.server.keepReleases = 1;
    await t.platform.reload(t.config);
    await t.platform.deploy(app, {}, () => {});
    assertEquals(await t.platform.store.releases("hello"), [3]);
  } finally {
    await t.close();
    await Deno.remove(app, { recursive: true });
  }
});
