/**
 * Wire compatibility with MyPaas: a Python client that speaks exactly as
 * mypaas/client/_push.py does (Python `cryptography` RSA-PSS MAX_LENGTH
 * signatures, base64.encodebytes + urllib quote, a zip of the directory)
 * pushes an existing MyPaas key to our API over TLS.
 */
import { InputError } from "../lib/errors.ts";
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

    // A refusal known before the stream (here a spec error from check) is
    // its 4xx status, so this client, which only reads the status, exits 1.
    api.platform.checkError = new InputError(
      "Dockerfile:2: mypaas.scale bad value",
      { status: 400 },
    );
    const refused = await new Deno.Command("python3", {
      args: [
        `${FIXTURES}/mypaas_push.py`,
        `https://localhost:${server.addr.port}`,
        `${dir}/ca.pem`,
        `${dir}/key.txt`,
        `${dir}/app`,
      ],
      stdin: "null",
    }).output();
    const refusedText = new TextDecoder().decode(refused.stdout);
    assertEquals(refused.code, 1, refusedText);
    assertStringIncludes(refusedText, "STATUS 400");
    assertStringIncludes(refusedText, "Dockerfile:2: mypaas.scale bad value");
    assertEquals(api.platform.deploys.length, 1);
  } finally {
    clearInterval(tick);
    await server.shutdown();
  }
});
