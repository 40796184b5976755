/**
 * Fingerprint collisions on a real daemon started from its config: two
 * authorized RSA keys share MyPaas's 10-character fingerprint, and each signs
 * requests that the daemon accepts; a key that is not authorized is refused.
 */
import { ApiClient } from "../../lib/api/client.ts";
import { PrivateKey } from "../../lib/keys/mod.ts";
import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { DaemonProcess, signedDaemonDir } from "./_daemon.ts";

Deno.test("e2e keys: two authorized keys with one fingerprint both sign requests the daemon accepts", async () => {
  const pair = JSON.parse(
    await Deno.readTextFile(
      new URL("../fixtures/keys/colliding_rsa.json", import.meta.url),
    ),
  ) as { fingerprint: string; private: string[] };
  const keys = await Promise.all(
    pair.private.map((pem) => PrivateKey.fromPem(pem)),
  );
  assert(keys.every((k) => k.fingerprint === pair.fingerprint));
  const { dir, port, config } = await signedDaemonDir("mypaas-keys-", "");
  await Deno.writeTextFile(
    `${dir}/data/authorized_keys`,
    keys.map((k, i) => `${k.publicKey.text} user${i}\n`).join(""),
  );
  await using daemon = new DaemonProcess(config);
  daemon.start();
  try {
    const server = `http://127.0.0.1:${port}`;
    const stranger = new ApiClient({
      server,
      key: await PrivateKey.generate("rsa"),
    });
    await daemon.waitFor("the admin API", async () => {
      await stranger.time();
      return true;
    });
    const refused = await fetch(
      await stranger.signedUrl("DELETE", "functions/none"),
      { method: "DELETE" },
    );
    assertEquals(refused.status, 403);
    assertStringIncludes(await refused.text(), "unknown key");
    for (const key of keys) {
      const client = new ApiClient({ server, key });
      const res = await fetch(
        await client.signedUrl("DELETE", "functions/none"),
        {
          method: "DELETE",
        },
      );
      const text = await res.text();
      assert(res.status !== 403, `refused: ${text}`);
      assertEquals(res.status, 404, text);
    }
  } finally {
    await daemon.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
