import { strToU8, zipSync } from "fflate";
import { ApiClient, readStream } from "../lib/api/client.ts";
import { PUSH_OPTIONS_FILE } from "../lib/api/push_options.ts";
import { InputError } from "../lib/errors.ts";
import { makeToken, PrivateKey } from "../lib/keys/mod.ts";
import { makeApi } from "./_api_helpers.ts";
import { assert, assertEquals, assertStringIncludes } from "./_push_assert.ts";

const key = await PrivateKey.generate();
const fixture = JSON.parse(
  await Deno.readTextFile(
    new URL("./fixtures/keys/mypaas_rsa.json", import.meta.url),
  ),
) as Record<string, string>;
const mypaasKey = await PrivateKey.fromPem(fixture.private_plain!);
const APP = zipSync({
  "Dockerfile": strToU8("FROM busybox\n# mypaas.service=web\n"),
  "index.html": strToU8("hi"),
});

/** A push URL signed the MyPaas way (token and body), with overrides. */
async function pushUrl(
  k: PrivateKey,
  time: number,
  body: Uint8Array<ArrayBuffer>,
  o: { token?: string; sig2Body?: Uint8Array; id?: string } = {},
) {
  const token = o.token ?? makeToken(time);
  const sig1 = await k.sign(new TextEncoder().encode(token));
  const sig2 = await k.sign(o.sig2Body ?? body);
  // MyPaas: base64.encodebytes (76-column lines) then urllib quote().
  const wrap = (s: string) =>
    encodeURIComponent(s.match(/.{1,76}/g)!.join("\n") + "\n");
  return `https://paas.test/daemon/push?id=${
    o.id ?? k.fingerprint
  }&token=${token}&sig1=${wrap(sig1)}&sig2=${wrap(sig2)}`;
}

Deno.test("GET /daemon/time answers the server's Unix time", async () => {
  await using api = await makeApi([key]);
  const r = await api.app.request("/daemon/time");
  assertEquals(await r.text(), "1700000000");
});

Deno.test("a push with a fresh signed token deploys and streams an ok marker", async () => {
  await using api = await makeApi([key]);
  const zip = zipSync({
    "Dockerfile": strToU8("FROM x"),
    [PUSH_OPTIONS_FILE]: strToU8(
      JSON.stringify({ domains: ["f.test"], env: ["A=1"], name: "my-fn" }),
    ),
  });
  const client = new ApiClient({ server: "paas.test", key, fetch: api.fetch });
  const sent: number[] = [];
  const res = await client.push(zip, (s) => sent.push(s));
  assertEquals(res.status, 200);
  const lines: string[] = [];
  const end = await readStream(res, (l) => lines.push(l));
  assertEquals(end, { status: "ok", detail: "release 3" });
  assertStringIncludes(lines.join("\n"), "Step 1/2");
  assertEquals(sent.at(-1), zip.length);
  assertEquals(api.platform.deploys.length, 1);
  assertEquals(api.platform.deploys[0]!.files, ["Dockerfile"]);
  assertEquals(api.platform.deploys[0]!.name, "my-fn");
  assertEquals(api.platform.deploys[0]!.opts, {
    domains: ["f.test"],
    env: ["A=1"],
    actor: key.fingerprint,
    displayDir: ".",
  });
  assertEquals(
    api.audit.events.map((e) => `${e.action}:${e.result}:${e.release ?? ""}`),
    [
      "push:ok:",
      "deploy:ok:3",
    ],
  );
  assertEquals(api.audit.events[1]!.actor, key.fingerprint);
  // The unpacked upload is gone afterwards.
  const left = [...Deno.readDirSync(`${api.dataDir}/tmp`)];
  assertEquals(left.length, 0);
});

Deno.test("a MyPaas RSA key pushes with MyPaas's URL form", async () => {
  await using api = await makeApi([mypaasKey]);
  const res = await post(api, APP, mypaasKey);
  assertEquals(res.status, 200);
  const end = await readStream(res, () => {});
  assertEquals(end.status, "ok");
  assertEquals(api.platform.deploys[0]!.files, ["Dockerfile", "index.html"]);
});

async function refused(
  api: Awaited<ReturnType<typeof makeApi>>,
  url: string,
  body: BodyInit,
  status: number,
  includes: string,
) {
  const res = await api.app.request(url, { method: "POST", body });
  const text = await res.text();
  assertEquals(res.status, status, text);
  assertStringIncludes(text, includes);
  assertEquals(api.platform.deploys.length, 0, "deploy must not be called");
  assertEquals(api.audit.events.at(-1)?.result, "refused");
}

/** POSTs `body` to a push URL that `k` signed over that same body. */
async function post(
  api: Awaited<ReturnType<typeof makeApi>>,
  body: Uint8Array<ArrayBuffer> = APP,
  k: PrivateKey = key,
) {
  return api.app.request(await pushUrl(k, 1_700_000_000, body), {
    method: "POST",
    body,
  });
}

/** refused() for an upload signed by `key` as is (the body is at fault). */
async function refusedUpload(
  api: Awaited<ReturnType<typeof makeApi>>,
  body: Uint8Array<ArrayBuffer>,
  status: number,
  includes: string,
) {
  await refused(
    api,
    await pushUrl(key, 1_700_000_000, body),
    body,
    status,
    includes,
  );
}

Deno.test("a replayed push is refused with 403 and deploys once", async () => {
  await using api = await makeApi([key]);
  const url = await pushUrl(key, 1_700_000_000, APP);
  const first = await api.app.request(url, { method: "POST", body: APP });
  await readStream(first, () => {});
  assertEquals(api.platform.deploys.length, 1);
  api.platform.deploys = [];
  api.clock.now += 2000;
  await refused(api, url, APP, 403, "already used");
});

Deno.test("an expired token is refused with 403", async () => {
  await using api = await makeApi([key]);
  const url = await pushUrl(key, 1_700_000_000, APP);
  api.clock.now += 6000;
  await refused(api, url, APP, 403, "expired");
  await refused(
    api,
    await pushUrl(key, 1_700_000_010, APP),
    APP,
    403,
    "expired",
  );
});

Deno.test("an unknown key is refused with 403", async () => {
  await using api = await makeApi([key]);
  const other = await PrivateKey.generate();
  await refused(
    api,
    await pushUrl(other, 1_700_000_000, APP),
    APP,
    403,
    "unknown key",
  );
  // A known id with another key's signature.
  await refused(
    api,
    await pushUrl(other, 1_700_000_000, APP, { id: key.fingerprint }),
    APP,
    403,
    "token signature",
  );
});

Deno.test("a tampered body is refused with 403", async () => {
  await using api = await makeApi([key]);
  const tampered = zipSync({ "Dockerfile": strToU8("FROM evil") });
  await refused(
    api,
    await pushUrl(key, 1_700_000_000, APP),
    tampered,
    403,
    "payload signature",
  );
});

Deno.test("a zip with ../ entries is refused with 400", async () => {
  await using api = await makeApi([key]);
  const evil = zipSync({ "../../etc/cron.d/x": strToU8("* * * * * root sh") });
  await refusedUpload(api, evil, 400, "leaves the directory");
});

Deno.test("push options with a bad directory name are refused with 400", async () => {
  await using api = await makeApi([key]);
  const zip = zipSync({
    "Dockerfile": strToU8("FROM x"),
    [PUSH_OPTIONS_FILE]: strToU8(JSON.stringify({ name: "../x" })),
  });
  await refusedUpload(api, zip, 400, "name must be");
});

Deno.test("a zip bomb is refused with 413", async () => {
  await using api = await makeApi([key], ['max_unpacked = "1M"']);
  const bomb = zipSync({ "zeros": new Uint8Array(16 << 20) }, { level: 9 });
  await refusedUpload(api, bomb, 413, "max_unpacked");
});

Deno.test("an oversized upload is refused with 413, streamed or declared", async () => {
  await using api = await makeApi([key], ['max_upload = "64K"']);
  const big = zipSync({
    "r": crypto.getRandomValues(new Uint8Array(60_000)),
    "s": crypto.getRandomValues(new Uint8Array(60_000)),
  }, { level: 0 });
  const url = await pushUrl(key, 1_700_000_000, big);
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(big);
      c.close();
    },
  });
  await refused(api, url, stream, 413, "max_upload");
  await refusedUpload(api, big, 413, "max_upload");
});

Deno.test("a failed deploy streams a failed marker; bad input a refused one", async () => {
  await using api = await makeApi([key]);
  api.platform.result = {
    ok: false,
    service: "web",
    kind: "service",
    release: 2,
    error: "build failed: exit 1",
  };
  let res = await post(api);
  assertEquals(await readStream(res, () => {}), {
    status: "failed",
    detail: "build failed: exit 1",
  });
  assertEquals(api.audit.events.at(-1)?.result, "failed");
  api.platform.result = new InputError(
    "Dockerfile:2: mypaas.port must be a number",
  );
  res = await post(api);
  const end = await readStream(res, () => {});
  assertEquals(end.status, "refused");
  assertStringIncludes(end.detail, "mypaas.port");
  api.platform.result = new Error("secret internal path /root/x");
  res = await post(api);
  const text = await res.text();
  assert(!text.includes("/root/x"), text);
  assertStringIncludes(text, "mypaas: deploy failed: internal error");
});

Deno.test("authorized_keys edits apply without a restart", async () => {
  await using api = await makeApi([]);
  await refusedUpload(api, APP, 403, "unknown key");
  await Deno.writeTextFile(
    `${api.dataDir}/authorized_keys`,
    `${key.publicKey.text}\n`,
  );
  const res = await post(api);
  assertEquals(res.status, 200);
  await res.body?.cancel();
});

Deno.test("a refusal from the platform's check is its 4xx before any progress; another check failure ends the stream as failed", async () => {
  await using api = await makeApi([key]);
  api.platform.checkError = new InputError(
    'Dockerfile: URL "https://a.test/" is already served by "b"',
    { status: 409 },
  );
  let res = await post(api);
  assertEquals(res.status, 409);
  assertStringIncludes(await res.text(), "already served");
  assertEquals(api.platform.deploys.length, 0);
  assertEquals(api.audit.events.at(-1)?.result, "refused");
  const tmp = [];
  for await (const e of Deno.readDir(`${api.dataDir}/tmp`)) tmp.push(e.name);
  assertEquals(tmp, [], "the upload is removed");
  api.platform.checkError = new Error("cannot use Docker: /root/secret.sock");
  res = await post(api);
  assertEquals(res.status, 200);
  const text = await res.text();
  assert(!text.includes("/root/secret.sock"), text);
  assertStringIncludes(text, "mypaas: deploy failed: internal error");
});

Deno.test("two authorized keys with one fingerprint both push: each is tried", async () => {
  const pair = JSON.parse(
    await Deno.readTextFile(
      new URL("./fixtures/keys/colliding_rsa.json", import.meta.url),
    ),
  ) as { fingerprint: string; private: string[] };
  const [a, b] = await Promise.all(
    pair.private.map((pem) => PrivateKey.fromPem(pem)),
  );
  assertEquals([a!.fingerprint, b!.fingerprint], [
    pair.fingerprint,
    pair.fingerprint,
  ]);
  assert(a!.publicKey.text !== b!.publicKey.text);
  await using api = await makeApi([a!, b!]);
  for (const k of [a!, b!]) {
    const res = await post(api, APP, k);
    assertEquals(res.status, 200, await res.clone().text());
    assertEquals((await readStream(res, () => {})).status, "ok");
  }
  assertEquals(api.platform.deploys.length, 2);
});
