import assert from "node:assert/strict";
import { backoffDelay, renewalTime } from "../lib/acme/schedule.ts";
import { parseRenewalInfo } from "../lib/acme/acme_issuer.ts";
import { ChallengeResponder } from "../lib/acme/challenge.ts";
import { ariCertId } from "../lib/acme/cert_info.ts";
import { createSelfSigned } from "../lib/acme/self_signed.ts";
import { hostnameCandidates } from "../lib/acme/cert_source.ts";

const DAY = 86_400_000;
const mid = () => 0.5; // no jitter

Deno.test("backoffDelay() doubles from one minute and stops at six hours", () => {
  assert.equal(backoffDelay(0, {}, mid), 0);
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((n) => backoffDelay(n, {}, mid)),
    [60_000, 120_000, 240_000, 480_000, 960_000],
  );
  assert.equal(backoffDelay(10, {}, mid), 6 * 3_600_000);
  assert.equal(backoffDelay(1000, {}, mid), 6 * 3_600_000);
});

Deno.test("backoffDelay() spreads by the jitter fraction", () => {
  assert.equal(backoffDelay(1, { base: 1000, jitter: 0.1 }, () => 0), 900);
  assert.equal(backoffDelay(1, { base: 1000, jitter: 0.1 }, () => 1), 1100);
});

Deno.test("renewalTime() renews a 90-day certificate with a third of its life left", () => {
  const v = { notBefore: 0, notAfter: 90 * DAY };
  assert.equal(renewalTime(v, 1 / 3, undefined, mid), 60 * DAY);
});

Deno.test("renewalTime() follows an earlier ARI window and ignores a later one", () => {
  const v = { notBefore: 0, notAfter: 90 * DAY };
  const early = { start: 10 * DAY, end: 12 * DAY };
  assert.equal(renewalTime(v, 1 / 3, early, mid), 11 * DAY);
  const late = { start: 70 * DAY, end: 80 * DAY };
  assert.equal(renewalTime(v, 1 / 3, late, mid), 60 * DAY);
});

Deno.test("parseRenewalInfo() reads the window and Retry-After", () => {
  const body = {
    suggestedWindow: {
      start: "2030-01-01T00:00:00Z",
      end: "2030-01-02T00:00:00Z",
    },
  };
  assert.deepEqual(parseRenewalInfo(body, "3600"), {
    window: {
      start: Date.parse("2030-01-01T00:00:00Z"),
      end: Date.parse("2030-01-02T00:00:00Z"),
    },
    retryAfter: 3_600_000,
  });
  assert.equal(parseRenewalInfo(body, null)?.retryAfter, 6 * 3_600_000);
  assert.equal(parseRenewalInfo({}, null), undefined);
});

Deno.test("ariCertId() is undefined for a certificate without an authority key id", async () => {
  const pair = await createSelfSigned(["x.test"]);
  assert.equal(ariCertId(pair.cert), undefined);
});

Deno.test("ChallengeResponder answers known tokens, 404s unknown ones and ignores other paths", async () => {
  const c = new ChallengeResponder();
  c.set("tok1", "tok1.thumb");
  const base = "http://a.test/.well-known/acme-challenge/";
  const hit = c.handle(new Request(base + "tok1"));
  assert.equal(hit?.status, 200);
  assert.equal(await hit?.text(), "tok1.thumb");
  const miss = c.handle(new Request(base + "nope"));
  assert.equal(miss?.status, 404);
  await miss?.body?.cancel();
  assert.equal(c.handle(new Request("http://a.test/app")), undefined);
  c.delete("tok1");
  const gone = c.handle(new Request(base + "tok1"));
  assert.equal(gone?.status, 404);
  await gone?.body?.cancel();
});

Deno.test("hostnameCandidates() tries the exact name, then the one-label wildcard", () => {
  assert.deepEqual(hostnameCandidates("A.Example.com:443"), [
    "a.example.com",
    "*.example.com",
  ]);
  assert.deepEqual(hostnameCandidates("localhost"), ["localhost"]);
});
