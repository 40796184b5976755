/**
 * @module
 * Reads what certificate management needs from a PEM certificate: its names,
 * validity and the identifiers ARI asks for. Wraps @peculiar/x509 so its
 * types stay in this folder.
 */
import * as x509 from "@peculiar/x509";
import { createPrivateKey, X509Certificate } from "node:crypto";

/** What we read from a certificate. */
export interface CertInfo {
  /** DNS names of the subjectAltName (the CN when there is none), lower case. */
  names: string[];
  notBefore: Date;
  notAfter: Date;
  /** Serial number as lower-case hex. */
  serial: string;
  issuer: string;
}

/** Reads the first certificate of a PEM chain; throws on malformed input. */
export function readCertInfo(pem: string): CertInfo {
  const cert = firstCert(pem);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  let names =
    san?.names.items.filter((n) => n.type === "dns").map((n) =>
      n.value.toLowerCase()
    ) ?? [];
  if (names.length === 0) {
    names = cert.subjectName.getField("CN").map((n) => n.toLowerCase());
  }
  return {
    names,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    serial: cert.serialNumber.toLowerCase(),
    issuer: cert.issuer,
  };
}

/**
 * The ARI certificate identifier (RFC 9773 section 4.1):
 * base64url(authorityKeyIdentifier) "." base64url(serial DER bytes);
 * undefined when the certificate has no authority key identifier.
 */
export function ariCertId(pem: string): string | undefined {
  const cert = firstCert(pem);
  const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
  if (!aki?.keyId) return undefined;
  const keyId = hexToBytes(aki.keyId);
  const serial = cert.serialNumber;
  // The DER INTEGER bytes: a leading zero byte when the high bit is set.
  let serialBytes = hexToBytes(serial.length % 2 ? `0${serial}` : serial);
  if ((serialBytes[0] ?? 0) & 0x80) {
    serialBytes = new Uint8Array([0, ...serialBytes]);
  }
  return `${base64url(keyId)}.${base64url(serialBytes)}`;
}

/**
 * Whether the private key (PKCS#8, SEC1 or PKCS#1 PEM) belongs to the first
 * certificate of the chain; false for a mismatch, throws on malformed PEM.
 */
export function keyMatchesCert(certPem: string, keyPem: string): boolean {
  return new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
}

function firstCert(pem: string): x509.X509Certificate {
  const ders = x509.PemConverter.decode(pem);
  const first = ders[0];
  if (!first) throw new SyntaxError("No PEM certificate found in the input");
  return new x509.X509Certificate(first);
}

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  }
  return out;
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-")
    .replaceAll("/", "_").replace(/=+$/, "");
}
