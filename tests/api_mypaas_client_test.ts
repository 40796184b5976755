/**
 * Wire compatibility with MyPaas: a Python client that speaks exactly as
 * mypaas/client/_push.py does (Python `cryptography` RSA-PSS MAX_LENGTH
 * signatures, base64.encodebytes + urllib quote, a zip of the directory)
 * pushes an existing MyPaas key to our API over TLS.
 */
import { PrivateKey } from "../lib/keys/mod.ts";
import { makeApi, makeTestCa, serveTls } from "./_api_helpers.ts";
import { assert, assertEquals, assertStringIncludes } from "./_push_assert.ts";

const FIXTURES = new URL("./fixtures/keys/", import.meta.url).pathname;

Deno.test("a MyPaas (Python) client pushes with its RSA key and reads the progress", async () => {
  const fixture = JSON.parse(
    await Deno.readTextFile(`${FIXTURES}/mypaas_rsa.json`),
  ) as Record<string, string>;
  const key = await PrivateKey.fromPem(fixture.private_plain!);
  await using api = await makeApi([key]);
  const dir = api.dataDir;
  await makeTestCa(dir);
  await Deno.writeTextFile(`${dir}/key.txt`, fixture.private_plain!);
  await Deno.mkdir(`${dir}/app/www`, { recursive: true });
  await Deno.writeTextFile(`${dir}/app/Dockerfile`, "FROM busybox\n");
  await Deno.writeTextFile(`${dir}/app/www/index.html`, "hi\n");
  api.clock.now = Date.now();
  const tick = setInterval(() => api.clock.now = Date.now(), 50);
  const server = await serveTls(dir, (req) => api.app.fetch(req));
  try {
    const out = await new Deno.Command("python3", {
      args: [
        `${FIXTURES}/mypaas_push.py`,
        `https://localhost:${server.addr.port}`,
        `${dir}/ca.pem`,
        `${dir}/key.txt`,
        `${dir}/app`,
      ],
      stdin: "null",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const err = new TextDecoder().decode(out.stderr);
    assert(
      out.success,
      `python3 with requests and cryptography must run here: ${err}`,
    );
    assertStringIncludes(text, "STATUS 200");
    assertStringIncludes(text, `fingerprint ${fixture.fingerprint}`);
    assertStringIncludes(text, "mypaas: deploy ok release 3");
    assertEquals(api.platform.deploys[0]!.files, [
      "Dockerfile",
      "www/index.html",
    ]);
    assertEquals(api.audit.events.at(-1)?.actor, fixture.fingerprint);
  } finally {
    clearInterval(tick);
    await server.shutdown();
  }
});
