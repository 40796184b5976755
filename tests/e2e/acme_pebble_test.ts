/**
 * End to end against Debian's pebble: real ACME orders with HTTP-01 served
 * by our ChallengeResponder, certificates chosen by SNI in a real TLS
 * handshake and verified against pebble's issuing root, then a renewal.
 */
import assert from "node:assert/strict";
import tls from "node:tls";
import { resolveConfig } from "../../lib/config/mod.ts";
import { createCertificates } from "../../lib/acme/certificates.ts";
import type { CertSource } from "../../lib/acme/cert_source.ts";
import {
  handshake,
  hex,
  SkewClock,
  startPebble,
} from "./acme_pebble_harness.ts";

const YEAR = 365 * 86_400_000;

/** A TLS server choosing its certificate by SNI from a CertSource. */
async function serveBySni(
  certs: CertSource,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = tls.createServer({
    minVersion: "TLSv1.2",
    SNICallback: (name, cb) => {
      const pair = certs.get(name);
      if (!pair) return cb(new Error(`no certificate for ${name}`));
      cb(null, tls.createSecureContext(pair));
    },
  }, (socket) => socket.end("ok"));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

Deno.test("ACME against pebble: issue two domains, serve them by SNI, back off on a failed order, renew", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-acme-e2e-" });
  const clock = new SkewClock();
  const toClose: (() => Promise<void> | void)[] = [];
  try {
    // plain-HTTP listener answering the CA's HTTP-01 requests
    const route: { acme?: (req: Request) => Response | undefined } = {};
    const http = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req) => route.acme?.(req) ?? new Response("no route", { status: 404 }),
    );
    toClose.push(() => http.shutdown());
    const pebble = await startPebble({ httpPort: http.addr.port, dir });
    toClose.push(() => pebble.close());

    const config = resolveConfig(
      [
        "[server]",
        `data_dir = "${dir}/data"`,
        "[acme]",
        'email = "ops@mypaas.test"',
        `directory = "${pebble.directory}"`,
        `ca_file = "${pebble.caFile}"`,
        "renew_fraction = 0.33",
      ].join("\n"),
      { home: dir },
    );
    const certs = createCertificates(config, { clock });
    // refused.test never answers its challenge: the CA fails that order
    route.acme = (req) =>
      new URL(req.url).hostname === "refused.test"
        ? new Response("gone", { status: 404 })
        : certs.challenges.handle(req);
    await certs.store.start();
    await certs.manager.start();
    toClose.push(async () => {
      await certs.manager.stop();
      await certs.store.stop();
    });
    const sni = await serveBySni(certs.store);
    toClose.push(() => sni.close());

    await certs.manager.ensure(["one.test", "two.test", "refused.test"]);
    assert.equal(
      certs.store.lookup("one.test")?.origin,
      "self-signed",
      "a placeholder answers before the CA does",
    );
    await certs.manager.whenIdle();
    const status = () =>
      Object.fromEntries(certs.manager.status().map((s) => [s.domain, s]));
    for (const d of ["one.test", "two.test"]) {
      assert.equal(status()[d]?.origin, "acme", status()[d]?.lastError);
    }
    const refused = status()["refused.test"];
    assert.equal(refused?.origin, "self-signed", "placeholder keeps serving");
    assert.equal(refused?.failures, 1);
    assert.match(refused?.lastError ?? "", /refused\.test/);
    assert.ok(
      refused!.nextAttempt >= clock.now() + 45_000,
      "backs off about a minute",
    );
    assert.equal(certs.challenges.size, 0, "tokens withdrawn");

    const root = await pebble.issuingRoot();
    const one = await handshake(sni.port, "one.test", root);
    const two = await handshake(sni.port, "two.test", root);
    assert.equal(one, hex(certs.store.lookup("one.test")?.info.serial));
    assert.equal(two, hex(certs.store.lookup("two.test")?.info.serial));
    assert.notEqual(one, two);
    assert.deepEqual(certs.store.lookup("two.test")?.info.names, ["two.test"]);
    await assert.rejects(handshake(sni.port, "three.test", root));
    const otherCa = await Deno.readTextFile(pebble.caFile);
    await assert.rejects(
      handshake(sni.port, "one.test", otherCa),
      "the chain is verified, not just accepted",
    );

    const data = `${dir}/data`;
    for (
      const f of [
        "acme/account.key",
        "certs/one.test/cert.pem",
        "certs/one.test/key.pem",
        "certs/one.test/meta.json",
      ]
    ) {
      assert.equal((await Deno.stat(`${data}/${f}`)).mode! & 0o777, 0o600, f);
    }
    const key = await Deno.readTextFile(`${data}/certs/one.test/key.pem`);
    assert.match(key, /BEGIN PRIVATE KEY/);
    const accountKey = await Deno.readTextFile(`${data}/acme/account.key`);

    // Renewal: pebble's certificates live five years; four years on, less
    // than a third is left, so both renew and the new ones are served.
    clock.jump(4 * YEAR);
    await certs.manager.whenIdle();
    const renewed = await handshake(sni.port, "one.test", root);
    assert.notEqual(renewed, one, "a new certificate after renewal");
    assert.equal(status()["refused.test"]?.failures, 2, "retried, failed");
    assert.equal(status()["refused.test"]?.origin, "self-signed");
    assert.equal(renewed, hex(certs.store.lookup("one.test")?.info.serial));
    const meta = JSON.parse(
      await Deno.readTextFile(`${data}/certs/one.test/meta.json`),
    );
    assert.equal(hex(meta.serial), renewed);
    assert.equal(
      await Deno.readTextFile(`${data}/acme/account.key`),
      accountKey,
      "the account key is kept",
    );
  } finally {
    for (const close of toClose.reverse()) await close();
    await Deno.remove(dir, { recursive: true });
  }
});
