/**
 * Certificate management wired into the real proxy, against pebble: the
 * proxy's plain-HTTP listener answers the CA's HTTP-01 requests through the
 * router's challenge handler, its HTTPS listener picks certificates by SNI
 * from the CertStore, and a renewal reaches clients (the listener rebinds).
 */
import assert from "node:assert/strict";
import { resolveConfig } from "../../lib/config/mod.ts";
import { createCertificates } from "../../lib/acme/certificates.ts";
import { DomainWatch } from "../../lib/acme/domain_watch.ts";
import { createSelfSigned } from "../../lib/acme/self_signed.ts";
import { readCertInfo } from "../../lib/acme/cert_info.ts";
import { ProxyServer, Router } from "../../lib/proxy/mod.ts";
import {
  freePort,
  handshake,
  hex,
  SkewClock,
  startPebble,
  waitFor,
} from "./acme_pebble_harness.ts";

const YEAR = 365 * 86_400_000;

/** Whether `openssl s_client` with extra flags completes a handshake. */
async function opensslHandshake(
  port: number,
  name: string,
  flags: string[],
): Promise<boolean> {
  const out = await new Deno.Command("openssl", {
    args: [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-servername",
      name,
      ...flags,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  return out.code === 0 && /Cipher is (?!\(NONE\))/.test(text);
}

Deno.test("proxy + ACME: HTTP-01 through the proxy, SNI on its HTTPS listener, manual override and renewal served without restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-acme-proxy-" });
  const cleanup: (() => Promise<void> | void)[] = [];
  try {
    const config = resolveConfig(
      [
        "[server]",
        `data_dir = "${dir}/data"`,
        'bind = "127.0.0.1"',
        'domain = "admin.test"',
        "[acme]",
        'email = "ops@mypaas.test"',
      ].join("\n"),
      { home: dir },
    );
    const clock = new SkewClock();
    // pebble must know the proxy's HTTP port before it starts, and the
    // issuer needs pebble's URL: reserve the port first.
    const httpPort = freePort();
    const pebble = await startPebble({ httpPort, dir });
    cleanup.push(() => pebble.close());
    const certs = createCertificates({
      ...config,
      acme: {
        ...config.acme,
        directory: pebble.directory,
        caFile: pebble.caFile,
      },
    }, { clock });
    await certs.store.start(); // before the proxy: it reads defaultCert()
    cleanup.push(() => certs.store.stop());
    const router = new Router();
    cleanup.push(() => router.stop());
    router.setChallengeHandler((req) =>
      Promise.resolve(
        certs.challenges.handle(req) ?? new Response(null, { status: 404 }),
      )
    );
    const proxy = new ProxyServer({
      router,
      config,
      certs: certs.store,
      listen: { http: httpPort, https: 0 },
    });
    await proxy.start();
    cleanup.push(() => proxy.stop());
    await certs.manager.start();
    cleanup.push(() => certs.manager.stop());
    const watch = new DomainWatch({
      source: () => ["one.test", "two.test"],
      sink: certs.manager,
      always: [config.server.domain],
    });
    await watch.start();
    await watch.sync(); // the first sync runs in the background
    cleanup.push(() => watch.stop());
    await certs.manager.whenIdle();
    const byDomain = Object.fromEntries(
      certs.manager.status().map((s) => [s.domain, s]),
    );
    assert.equal(
      byDomain["one.test"]?.origin,
      "acme",
      byDomain["one.test"]?.lastError,
    );
    assert.equal(
      byDomain["two.test"]?.origin,
      "acme",
      byDomain["two.test"]?.lastError,
    );

    const root = await pebble.issuingRoot();
    const port = proxy.httpsAddr!.port;
    const one = await handshake(port, "one.test", root);
    const two = await handshake(port, "two.test", root);
    assert.equal(one, hex(certs.store.lookup("one.test")?.info.serial));
    assert.equal(two, hex(certs.store.lookup("two.test")?.info.serial));
    assert.notEqual(one, two);

    // TLS 1.2+ with AEAD suites only: openssl as an independent client
    assert.equal(await opensslHandshake(port, "one.test", ["-tls1_2"]), true);
    assert.equal(await opensslHandshake(port, "one.test", ["-tls1_3"]), true);
    // SECLEVEL=0 lets OpenSSL 3's own client offer TLS 1.1 at all, so the
    // refusal below is the server's
    assert.equal(
      await opensslHandshake(port, "one.test", [
        "-tls1_1",
        "-cipher",
        "DEFAULT@SECLEVEL=0",
      ]),
      false,
    );
    assert.equal(
      await opensslHandshake(port, "one.test", [
        "-tls1_2",
        "-cipher",
        "AES128-SHA:ECDHE-ECDSA-AES128-SHA",
      ]),
      false,
      "CBC suites refused",
    );

    // An operator's certificate for two.test replaces the ACME one on the
    // running listener (the manual folder is polled, no restart).
    const manual = await createSelfSigned(["two.test"]);
    const manualDir = `${dir}/data/certs/manual`;
    await Deno.writeTextFile(`${manualDir}/two.key`, manual.key);
    await Deno.writeTextFile(`${manualDir}/two.crt`, manual.cert);
    const manualSerial = hex(readCertInfo(manual.cert).serial);
    await waitFor(
      async () =>
        (await handshake(port, "two.test", manual.cert)) === manualSerial,
      10_000,
    );

    clock.jump(4 * YEAR);
    await certs.manager.whenIdle();
    const renewed = hex(certs.store.lookup("one.test")?.info.serial);
    assert.notEqual(renewed, one);
    // the proxy rebinds its listener on change; new handshakes see the new one
    await waitFor(
      async () => (await handshake(port, "one.test", root)) === renewed,
      5_000,
    );
  } finally {
    for (const f of cleanup.reverse()) await f();
    await Deno.remove(dir, { recursive: true });
  }
});
