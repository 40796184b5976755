/**
 * @module
 * The encrypted PKCS#8 envelope (`ENCRYPTED PRIVATE KEY`: PBES2 = PBKDF2 +
 * AES-CBC), which OpenSSL and Python's `cryptography` write. node-forge opens
 * and writes it: Deno 2.9.6's node:crypto cannot open PBES2 with the
 * `hmacWithSHA1` PRF (OpenSSL's `-v2prf` default before 3.0, "bad decrypt"
 * with the right passphrase) and its `export()` has no iteration count
 * (2048, against our 100,000).
 */
import { Buffer } from "node:buffer";
import { createPrivateKey, type KeyObject } from "node:crypto";
import forge from "node-forge";
import { InputError } from "../errors.ts";

/** Thrown when a passphrase does not open the key. */
export class BadPassphraseError extends InputError {
  override name = "BadPassphraseError";
}

/** Opens an `ENCRYPTED PRIVATE KEY` PEM with `passphrase`. */
export function decryptPkcs8(pem: string, passphrase: string): KeyObject {
  let info: forge.asn1.Asn1 | null;
  try {
    info = forge.pki.decryptPrivateKeyInfo(
      forge.pki.encryptedPrivateKeyFromPem(pem),
      passphrase,
    );
  } catch (err) {
    throw new InputError(
      `Encrypted private key not supported (${
        (err as Error).message
      }); re-encrypt with "openssl pkcs8 -topk8 -v2 aes-256-cbc"`,
    );
  }
  if (!info) {
    throw new BadPassphraseError(
      "Wrong passphrase for the private key (set MYPAAS_KEY_PASSPHRASE or type it at the prompt)",
    );
  }
  const der = forge.asn1.toDer(info).getBytes();
  return createPrivateKey({
    key: Buffer.from(der, "binary"),
    format: "der",
    type: "pkcs8",
  });
}

/** PKCS#8 PEM encrypted as OpenSSL's default: PBKDF2-SHA256 + AES-256-CBC. */
export function encryptPkcs8(
  key: KeyObject,
  passphrase: string,
  iterations = 100_000,
): string {
  const der = key.export({ type: "pkcs8", format: "der" });
  const info = forge.asn1.fromDer(der.toString("binary"));
  return forge.pki.encryptedPrivateKeyToPem(
    forge.pki.encryptPrivateKeyInfo(info, passphrase, {
      algorithm: "aes256",
      count: iterations,
      prfAlgorithm: "sha256",
    }),
  ) + "\n";
}
