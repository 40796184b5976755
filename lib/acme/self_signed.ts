/**
 * @module
 * A self-signed EC P-256 certificate that answers a new domain over TLS
 * until its real certificate arrives (or for good when ACME is off). Pure
 * WebCrypto + @peculiar/x509: no subprocess.
 */
import * as x509 from "@peculiar/x509";
import type { CertPair } from "./cert_source.ts";

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** How long a self-signed placeholder is valid. */
export const SELF_SIGNED_DAYS = 90;

/** Creates a fresh key and a self-signed end-entity certificate for names. */
export async function createSelfSigned(
  names: string[],
  opts: { now?: Date; days?: number } = {},
): Promise<CertPair> {
  if (names.length === 0) {
    throw new TypeError("createSelfSigned() needs at least one name");
  }
  const now = opts.now ?? new Date();
  const days = opts.days ?? SELF_SIGNED_DAYS;
  const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] = (serial[0] ?? 0) & 0x7f; // positive INTEGER
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Array.from(serial, (b) => b.toString(16).padStart(2, "0"))
      .join(""),
    name: [{ CN: [names[0]!] }, { O: ["mypaas self-signed"] }],
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + days * 86_400_000),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        names.map((value) => ({ type: "dns" as const, value })),
      ),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    cert: cert.toString("pem") + "\n",
    key: x509.PemConverter.encode(pkcs8, "PRIVATE KEY") + "\n",
  };
}
