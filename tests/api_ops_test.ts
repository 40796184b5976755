import { ApiClient, readStream } from "../lib/api/client.ts";
import { PrivateKey } from "../lib/keys/mod.ts";
import { makeApi } from "./_api_helpers.ts";
import { assertEquals, assertStringIncludes } from "./_push_assert.ts";

const key = await PrivateKey.generate();

Deno.test("status and services need a signed request and list the platform's services", async () => {
  await using api = await makeApi([key]);
  api.platform.services = [{
    service: "web",
    kind: "service",
    release: 4,
    urls: ["https://web.test/"],
    state: "running",
    instances: [{ id: "web-4-1", state: "healthy", restarts: 1 }],
    releases: [4, 3],
  }];
  const client = new ApiClient({
    server: "https://paas.test:8443",
    key,
    fetch: api.fetch,
  });
  const status = await client.request("GET", "status");
  assertEquals(status.status, 200);
  const text = await status.text();
  assertStringIncludes(text, "web (service) release 4: running");
  assertStringIncludes(text, "web-4-1 healthy (1 restarts)");
  const services = await client.request("GET", "services");
  assertEquals((await services.json())[0].service, "web");
  const anon = await api.app.request("/daemon/status");
  assertEquals(anon.status, 403);
});

Deno.test("a signed remove cannot be redirected to another service", async () => {
  await using api = await makeApi([key]);
  const client = new ApiClient({ server: "paas.test", key, fetch: api.fetch });
  const url = await client.signedUrl("POST", "remove", { service: "web" });
  const forged = url.replace("service=web", "service=db");
  const res = await api.app.request(forged, { method: "POST" });
  assertEquals(res.status, 403);
  assertStringIncludes(await res.text(), "request signature");
  assertEquals(api.platform.removed, []);
  const ok = await client.request("POST", "remove", { service: "web" });
  assertEquals(ok.status, 200);
  assertEquals(await readStream(ok, () => {}), { status: "ok", detail: "" });
  assertEquals(api.platform.removed, ["web"]);
  assertEquals(api.audit.events.at(-1)?.action, "remove");
  assertEquals(api.audit.events.at(-1)?.actor, key.fingerprint);
});

Deno.test("rollback streams progress and is audited", async () => {
  await using api = await makeApi([key]);
  const client = new ApiClient({ server: "paas.test", key, fetch: api.fetch });
  const res = await client.request("POST", "rollback", {
    service: "web",
    release: "2",
  });
  const lines: string[] = [];
  assertEquals(await readStream(res, (l) => lines.push(l)), {
    status: "ok",
    detail: "release 2",
  });
  assertEquals(lines, ["rolling back web"]);
  assertEquals(api.audit.events.at(-1), {
    action: "rollback",
    actor: key.fingerprint,
    service: "web",
    release: 2,
    result: "ok",
  });
  const bad = await client.request("POST", "rollback", { service: "../x" });
  assertEquals(bad.status, 400);
});

Deno.test("logs stream lines; an unknown service is a 404", async () => {
  await using api = await makeApi([key]);
  const client = new ApiClient({ server: "paas.test", key, fetch: api.fetch });
  const res = await client.request("GET", "logs", {
    service: "web",
    tail: "10",
  });
  assertEquals(await res.text(), "line 1\nline 2\n");
  const missing = await client.request("GET", "logs", { service: "nope" });
  assertEquals(missing.status, 404);
});

Deno.test("AdminApi: start() clears leftover uploads; reload() follows a new data dir", async () => {
  await using api = await makeApi([key]);
  const { AdminApi } = await import("../lib/api/admin_api.ts");
  const { resolveConfig } = await import("../lib/config/mod.ts");
  await Deno.mkdir(`${api.dataDir}/tmp/push_old`, { recursive: true });
  const admin = new AdminApi(api.config, {
    platform: api.platform,
    audit: api.audit,
    clock: () => api.clock.now,
  });
  await admin.start();
  assertEquals([...Deno.readDirSync(`${api.dataDir}/tmp`)].length, 0);
  const client = new ApiClient({
    server: "paas.test",
    key,
    fetch: ((i: string | URL | Request, init?: RequestInit) =>
      admin.handler(new Request(i, init))) as typeof fetch,
  });
  assertEquals((await client.request("GET", "status")).status, 200);
  const other = await Deno.makeTempDir({ prefix: "mypaas_api_" });
  try {
    await Deno.writeTextFile(`${other}/authorized_keys`, "");
    await admin.reload(
      resolveConfig(`[server]\ndata_dir = "${other}"\n`, { home: other }),
    );
    assertEquals((await client.request("GET", "status")).status, 403);
  } finally {
    await admin.stop();
    await Deno.remove(other, { recursive: true });
  }
});

Deno.test("audit lines carry the client address the proxy passes in", async () => {
  await using api = await makeApi([key]);
  const client = new ApiClient({ server: "paas.test", key, fetch: api.fetch });
  const url = await client.signedUrl("POST", "remove", { service: "web" });
  const res = await api.app.request(url, { method: "POST" }, {
    remote: "192.0.2.7",
  });
  assertEquals(res.status, 200);
  assertEquals(api.audit.events.at(-1)?.remote, "192.0.2.7");
});

Deno.test("serverBase() takes a bare host or https URL and refuses plain http off loopback", async () => {
  const { serverBase } = await import("../lib/api/client.ts");
  const { InputError } = await import("../lib/errors.ts");
  assertEquals(serverBase("paas.example.com"), "https://paas.example.com");
  assertEquals(
    serverBase("https://paas.example.com:8443/x"),
    "https://paas.example.com:8443",
  );
  assertEquals(serverBase("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
  let err: unknown;
  try {
    serverBase("http://paas.example.com");
  } catch (e) {
    err = e;
  }
  assertEquals(err instanceof InputError, true);
});
