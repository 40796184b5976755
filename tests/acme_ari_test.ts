import assert from "node:assert/strict";
import * as x509 from "@peculiar/x509";
import { AcmeIssuer } from "../lib/acme/acme_issuer.ts";
import { ChallengeResponder } from "../lib/acme/challenge.ts";
import { ariCertId } from "../lib/acme/cert_info.ts";

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** A CA-signed leaf with a chosen serial; returns its PEM and the CA key id. */
async function leafWithSerial(serial: string) {
  const caKeys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const ski = await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=ari test CA",
    signingAlgorithm: ALG,
    keys: caKeys,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), ski],
  });
  const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: "CN=ari.test",
    issuer: ca.subject,
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(ca)],
  });
  return { pem: leaf.toString("pem"), keyId: ski.keyId };
}

function b64url(hex: string): string {
  const bytes = hex.match(/../g)!.map((h) => parseInt(h, 16));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-")
    .replaceAll("/", "_").replace(/=+$/, "");
}

Deno.test("ariCertId() is base64url(AKI) . base64url(DER serial) with the sign byte", async () => {
  const high = await leafWithSerial("8001");
  assert.equal(ariCertId(high.pem), `${b64url(high.keyId)}.AIAB`);
  const low = await leafWithSerial("0102");
  assert.equal(ariCertId(low.pem), `${b64url(low.keyId)}.AQI`);
});

/** Runs `fn` with an AcmeIssuer whose directory `handler` serves on loopback. */
async function withDirectory(
  handler: (req: Request) => Response,
  fn: (issuer: AcmeIssuer) => Promise<void>,
): Promise<void> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    handler,
  );
  const dir = await Deno.makeTempDir({ prefix: "mypaas-acme-ari-" });
  const issuer = new AcmeIssuer({
    directory: `http://127.0.0.1:${server.addr.port}/dir`,
    email: "ops@ari.test",
    accountKeyFile: `${dir}/account.key`,
    challenges: new ChallengeResponder(),
  });
  try {
    await fn(issuer);
  } finally {
    issuer.close();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("AcmeIssuer.renewalWindow() asks the directory's renewalInfo for the certificate", async () => {
  const { pem, keyId } = await leafWithSerial("7f01");
  const seen: string[] = [];
  await withDirectory((req) => {
    const url = new URL(req.url);
    seen.push(url.pathname);
    if (url.pathname === "/dir") {
      return Response.json({ renewalInfo: `${url.origin}/ari/` });
    }
    return Response.json({
      suggestedWindow: {
        start: "2031-01-01T00:00:00Z",
        end: "2031-01-03T00:00:00Z",
      },
    }, { headers: { "retry-after": "7200" } });
  }, async (issuer) => {
    assert.deepEqual(await issuer.renewalWindow(pem), {
      window: {
        start: Date.parse("2031-01-01T00:00:00Z"),
        end: Date.parse("2031-01-03T00:00:00Z"),
      },
      retryAfter: 7_200_000,
    });
  });
  assert.deepEqual(seen, ["/dir", `/ari/${b64url(keyId)}.fwE`]);
});

Deno.test("AcmeIssuer.renewalWindow() is undefined when the directory has no renewalInfo", async () => {
  const { pem } = await leafWithSerial("05");
  await withDirectory(
    () => Response.json({ newOrder: "x" }),
    async (issuer) => {
      assert.equal(await issuer.renewalWindow(pem), undefined);
    },
  );
});
