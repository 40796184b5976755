import assert from "node:assert/strict";
import { AcmeManager } from "../lib/acme/acme_manager.ts";
import type { Issuer } from "../lib/acme/acme_issuer.ts";
import type { CertPair } from "../lib/acme/cert_source.ts";
import { CertStore } from "../lib/acme/cert_store.ts";
import { FakeClock } from "./_fake_clock.ts";
import { createSelfSigned } from "../lib/acme/self_signed.ts";
import type { RenewalWindow } from "../lib/acme/schedule.ts";

const DAY = 86_400_000;
const MIN = 60_000;

/** An issuer whose next answers the test scripts; certificates are 90-day. */
class FakeIssuer implements Issuer {
  calls: string[] = [];
  failNext = 0;
  window: RenewalWindow | undefined;
  hang: Promise<never> | undefined;
  constructor(readonly clock: FakeClock) {}
  async issue(domain: string): Promise<CertPair> {
    this.calls.push(domain);
    if (this.hang) return await this.hang;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error(`CA down for "${domain}"`);
    }
    return await createSelfSigned([domain], {
      now: new Date(this.clock.t + 60_000),
      days: 90,
    });
  }
  renewalWindow() {
    return Promise.resolve(
      this.window ? { window: this.window, retryAfter: DAY } : undefined,
    );
  }
}

async function setup(
  fn: (ctx: {
    store: CertStore;
    manager: AcmeManager;
    clock: FakeClock;
    issuer: FakeIssuer;
    dir: string;
  }) => Promise<void>,
  withIssuer = true,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-acme-mgr-" });
  const clock = new FakeClock();
  const issuer = new FakeIssuer(clock);
  const store = new CertStore({ dir: `${dir}/certs`, pollInterval: 60_000 });
  const manager = new AcmeManager({
    store,
    ...(withIssuer ? { issuer } : {}),
    renewFraction: 1 / 3,
    clock,
    random: () => 0.5,
    stopTimeout: 200,
  });
  await store.start();
  await manager.start();
  try {
    await fn({ store, manager, clock, issuer, dir: `${dir}/certs` });
  } finally {
    await manager.stop();
    await store.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("AcmeManager.ensure() serves self-signed at once, then the issued certificate", async () => {
  await setup(async ({ store, manager, issuer }) => {
    let changes = 0;
    store.onChange(() => changes++);
    const ensured = manager.ensure(["app.test"]);
    await ensured;
    assert.ok(store.get("app.test"), "something serves before the CA answers");
    await manager.whenIdle();
    assert.deepEqual(issuer.calls, ["app.test"]);
    assert.equal(store.lookup("app.test")?.origin, "acme");
    assert.ok(changes >= 2);
    const [st] = manager.status();
    assert.equal(st?.failures, 0);
  });
});

Deno.test("AcmeManager.ensure() of many new domains notifies the proxy once", async () => {
  await setup(async ({ store, manager, issuer }) => {
    issuer.hang = new Promise<never>(() => {});
    let changes = 0;
    store.onChange(() => changes++);
    await manager.ensure(["a1.test", "a2.test", "a3.test", "a4.test"]);
    assert.equal(changes, 1);
    for (const d of ["a1.test", "a4.test"]) {
      assert.equal(store.lookup(d)?.origin, "self-signed");
    }
  });
});

Deno.test("AcmeManager keeps a stored certificate that is not due after a restart", async () => {
  await setup(async ({ store, manager, clock, issuer }) => {
    const stored = await createSelfSigned(["kept.test"], {
      now: new Date(clock.t - 10 * DAY),
      days: 90,
    });
    await store.saveAcme("kept.test", stored);
    await manager.ensure(["kept.test"]);
    await manager.whenIdle();
    assert.deepEqual(issuer.calls, []);
    assert.equal(store.get("kept.test")?.cert, stored.cert);
    const next = manager.status()[0]!.nextAttempt;
    assert.ok(
      next > clock.t && next <= clock.t + DAY,
      "next ARI/renewal check",
    );
  });
});

Deno.test("AcmeManager backs off exponentially while the CA fails, then recovers", async () => {
  await setup(async ({ store, manager, clock, issuer }) => {
    issuer.failNext = 3;
    await manager.ensure(["flaky.test"]);
    await manager.whenIdle();
    assert.equal(issuer.calls.length, 1);
    assert.equal(store.lookup("flaky.test")?.origin, "self-signed");
    assert.equal(manager.status()[0]?.failures, 1);
    assert.match(manager.status()[0]?.lastError ?? "", /CA down/);
    // Retries at +1 min, then +2 min, then +4 min: not before.
    for (const wait of [1, 2, 4]) {
      clock.advance(wait * MIN - 1000);
      await manager.whenIdle();
      const before: number = issuer.calls.length;
      clock.advance(1000);
      await manager.whenIdle();
      assert.equal(issuer.calls.length, before + 1, `retry after ${wait} min`);
    }
    assert.equal(store.lookup("flaky.test")?.origin, "acme");
    assert.equal(manager.status()[0]?.failures, 0);
  });
});

Deno.test("AcmeManager renews with a third of the lifetime left; the old certificate serves while the CA fails", async () => {
  await setup(async ({ store, manager, clock, issuer }) => {
    await manager.ensure(["renew.test"]);
    await manager.whenIdle();
    const first = store.get("renew.test");
    assert.equal(issuer.calls.length, 1);
    clock.advance(59 * DAY);
    await manager.whenIdle();
    assert.equal(issuer.calls.length, 1, "not due yet at day 59");
    issuer.failNext = 1;
    clock.advance(DAY + 2 * MIN);
    await manager.whenIdle();
    assert.equal(issuer.calls.length, 2, "renewal tried at day 60");
    assert.equal(
      store.get("renew.test"),
      first,
      "old certificate still serves",
    );
    clock.advance(MIN + 10_000);
    await manager.whenIdle();
    assert.equal(issuer.calls.length, 3);
    assert.notEqual(store.get("renew.test")?.cert, first?.cert);
  });
});

Deno.test("AcmeManager renews early when the CA's ARI window opens", async () => {
  await setup(async ({ manager, clock, issuer }) => {
    await manager.ensure(["ari.test"]);
    await manager.whenIdle();
    assert.equal(issuer.calls.length, 1);
    issuer.window = { start: clock.t + 2 * DAY, end: clock.t + 4 * DAY };
    clock.advance(DAY); // next ARI poll (Retry-After one day)
    await manager.whenIdle();
    assert.equal(issuer.calls.length, 1);
    clock.advance(2 * DAY); // middle of the window
    await manager.whenIdle();
    assert.equal(issuer.calls.length, 2);
  });
});

Deno.test("AcmeManager without an issuer serves self-signed certificates only", async () => {
  await setup(async ({ store, manager, clock, issuer }) => {
    await manager.ensure(["off.test"]);
    await manager.whenIdle();
    clock.advance(DAY);
    await manager.whenIdle();
    assert.equal(issuer.calls.length, 0);
    assert.equal(store.lookup("off.test")?.origin, "self-signed");
  }, false);
});

Deno.test("AcmeManager does not order a certificate for a domain the operator covers", async () => {
  await setup(async ({ store, manager, issuer, dir }) => {
    const manual = await createSelfSigned(["own.test"]);
    await Deno.writeTextFile(`${dir}/manual/own.key`, manual.key);
    await Deno.writeTextFile(`${dir}/manual/own.crt`, manual.cert);
    await store.rescanManual();
    await manager.ensure(["own.test", "bad/../name"]);
    await manager.whenIdle();
    assert.deepEqual(issuer.calls, []);
    assert.equal(store.get("own.test")?.cert, manual.cert);
    assert.deepEqual(manager.status().map((s) => s.domain), ["own.test"]);
  });
});

Deno.test("AcmeManager.stop() is idempotent and bounded while an order hangs", async () => {
  await setup(async ({ manager, issuer, clock }) => {
    issuer.hang = new Promise<never>(() => {});
    await manager.ensure(["hang.test"]);
    const t0 = performance.now();
    await manager.stop();
    await manager.stop();
    assert.ok(performance.now() - t0 < 2000);
    assert.equal(clock.pending, 0, "no timer left armed");
  });
});
