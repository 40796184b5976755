import assert from "node:assert/strict";
import { CertStore, checkDomain } from "../lib/acme/cert_store.ts";
import { createSelfSigned } from "../lib/acme/self_signed.ts";
import { readCertInfo } from "../lib/acme/cert_info.ts";

async function withStore(
  fn: (store: CertStore, dir: string) => Promise<void>,
  pollInterval = 20,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-acme-store-" });
  const store = new CertStore({ dir: `${dir}/certs`, pollInterval });
  try {
    await store.start();
    await fn(store, `${dir}/certs`);
  } finally {
    await store.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

function nextChange(store: CertStore): Promise<void> {
  return new Promise((resolve) => {
    const off = store.onChange(() => {
      off();
      resolve();
    });
  });
}

Deno.test("CertStore.saveAcme() writes cert, key and meta with mode 0600 in a 0700 dir", async () => {
  await withStore(async (store, dir) => {
    const pair = await createSelfSigned(["a.test"]);
    await store.saveAcme("A.Test", pair);
    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(`${dir}/a.test`)).mode! & 0o777, 0o700);
    for (const f of ["cert.pem", "key.pem", "meta.json"]) {
      const st = await Deno.stat(`${dir}/a.test/${f}`);
      assert.equal(st.mode! & 0o777, 0o600, f);
    }
    assert.equal(await Deno.readTextFile(`${dir}/a.test/key.pem`), pair.key);
    const meta = JSON.parse(await Deno.readTextFile(`${dir}/a.test/meta.json`));
    assert.deepEqual(meta.names, ["a.test"]);
    assert.equal(store.get("a.test")?.cert, pair.cert);
    assert.equal(store.lookup("a.test")?.origin, "acme");
  });
});

Deno.test("CertStore.start() serves the certificates saved before a restart", async () => {
  await withStore(async (store, dir) => {
    const pair = await createSelfSigned(["b.test"]);
    await store.saveAcme("b.test", pair);
    const again = new CertStore({ dir });
    await again.start();
    try {
      assert.equal(again.get("b.test")?.key, pair.key);
      assert.equal(again.get("B.TEST.")?.key, pair.key);
      assert.equal(again.get("c.test"), undefined);
    } finally {
      await again.stop();
    }
  });
});

Deno.test("CertStore picks up a manual certificate without a restart and it overrides ACME", async () => {
  await withStore(async (store, dir) => {
    const acme = await createSelfSigned(["m.test"]);
    await store.saveAcme("m.test", acme);
    const manual = await createSelfSigned(["m.test", "other.test"]);
    const changed = nextChange(store);
    // key first, so the pair is complete when the .crt appears
    await Deno.writeTextFile(`${dir}/manual/m.test.key`, manual.key);
    await Deno.writeTextFile(`${dir}/manual/m.test.crt`, manual.cert);
    await changed;
    // a poll can land between the two writes; wait until the pair is in
    while (store.lookup("m.test")?.origin !== "manual") await nextChange(store);
    assert.equal(store.get("m.test")?.cert, manual.cert);
    assert.equal(store.get("other.test")?.cert, manual.cert);
    assert.ok(store.hasManual("m.test"));
    const removed = nextChange(store);
    await Deno.remove(`${dir}/manual/m.test.crt`);
    await removed;
    assert.equal(store.get("m.test")?.cert, acme.cert);
    assert.equal(store.get("other.test"), undefined);
  });
});

Deno.test("CertStore serves a manual wildcard certificate for one label only", async () => {
  await withStore(async (store, dir) => {
    const wild = await createSelfSigned(["*.example.test"]);
    await Deno.writeTextFile(`${dir}/manual/wild.key`, wild.key);
    await Deno.writeTextFile(`${dir}/manual/wild.crt`, wild.cert);
    assert.ok(await store.rescanManual());
    assert.equal(store.get("a.example.test")?.cert, wild.cert);
    assert.equal(store.get("example.test"), undefined);
    assert.equal(store.get("a.b.example.test"), undefined);
    assert.equal(await store.rescanManual(), false, "unchanged folder");
  }, 60_000);
});

Deno.test("CertStore skips a manual certificate without its key or with a wrong key and keeps the others", async () => {
  await withStore(async (store, dir) => {
    const lone = await createSelfSigned(["lone.test"]);
    const ok = await createSelfSigned(["ok.test"]);
    await Deno.writeTextFile(`${dir}/manual/lone.crt`, lone.cert);
    await Deno.writeTextFile(`${dir}/manual/ok.crt`, ok.cert);
    await Deno.writeTextFile(`${dir}/manual/ok.key`, ok.key);
    const other = await createSelfSigned(["other.test"]);
    await Deno.writeTextFile(`${dir}/manual/wrong.crt`, other.cert);
    await Deno.writeTextFile(`${dir}/manual/wrong.key`, ok.key);
    await store.rescanManual();
    assert.equal(store.get("lone.test"), undefined);
    assert.equal(store.get("other.test"), undefined, "mismatched key");
    assert.equal(store.get("ok.test")?.key, ok.key);
  }, 60_000);
});

Deno.test("CertStore.ensureSelfSigned() answers a new domain until the ACME certificate arrives", async () => {
  await withStore(async (store) => {
    await store.ensureSelfSigned("new.test");
    const first = store.lookup("new.test");
    assert.equal(first?.origin, "self-signed");
    assert.deepEqual(first?.info.names, ["new.test"]);
    await store.ensureSelfSigned("new.test");
    assert.equal(store.lookup("new.test"), first, "kept, not regenerated");
    const real = await createSelfSigned(["new.test"]);
    await store.saveAcme("new.test", real);
    assert.equal(store.get("new.test")?.cert, real.cert);
  });
});

Deno.test("checkDomain() refuses names that are not DNS names", () => {
  for (const bad of ["../etc", "a/b", "", "manual", "a..b", "-a.test"]) {
    assert.throws(() => checkDomain(bad), TypeError, bad);
  }
  assert.equal(checkDomain("App.Example.COM."), "app.example.com");
  assert.equal(checkDomain("*.example.com"), "*.example.com");
});

Deno.test("createSelfSigned() makes a P-256 end-entity certificate a TLS client accepts", async () => {
  const pair = await createSelfSigned(["self.test"]);
  const info = readCertInfo(pair.cert);
  assert.deepEqual(info.names, ["self.test"]);
  assert.ok(info.notAfter.getTime() > Date.now() + 80 * 86_400_000);
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: pair.cert,
    key: pair.key,
  });
  const served = (async () => {
    const conn = await listener.accept();
    await conn.write(new TextEncoder().encode("hi"));
    conn.close();
  })();
  const tcp = await Deno.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  const conn = await Deno.startTls(tcp, {
    hostname: "self.test",
    caCerts: [pair.cert],
  });
  const buf = new Uint8Array(2);
  assert.equal(await conn.read(buf), 2);
  assert.equal(new TextDecoder().decode(buf), "hi");
  conn.close();
  await served;
  listener.close();
});

Deno.test("CertStore.defaultCert() needs start(), then prefers the default name's own certificate", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-acme-default-" });
  const store = new CertStore({ dir, defaultName: "admin.test" });
  try {
    assert.throws(() => store.defaultCert(), /before start\(\)/);
    await store.start();
    const fallback = store.defaultCert();
    assert.deepEqual(readCertInfo(fallback.cert).names, ["admin.test"]);
    const own = await createSelfSigned(["admin.test"]);
    await store.saveAcme("admin.test", own);
    assert.equal(store.defaultCert().cert, own.cert);
  } finally {
    await store.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
