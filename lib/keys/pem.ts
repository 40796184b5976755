/**
 * @module
 * Private key files node:crypto cannot open alone. OpenSSH keys (ssh-keygen's
 * default, which MyPaas users point at): ssh2's parser, passphrase included.
 * Encrypted PKCS#8 (PBES2, as OpenSSL and Python's `cryptography` write):
 * node-forge, as Deno 2.9.6's node:crypto says "bad decrypt" to the right
 * passphrase with the `hmacWithSHA1` PRF (OpenSSL's `-v2prf` default before
 * 3.0) and writes only 2048 PBKDF2 iterations (we write 100,000).
 */
import { Buffer } from "node:buffer";
import { createPrivateKey, type KeyObject } from "node:crypto";
import forge from "node-forge";
import ssh2 from "ssh2";
import { InputError } from "../errors.ts";

/** Thrown when a passphrase does not open the key. */
export class BadPassphraseError extends InputError {
  override name = "BadPassphraseError";
}

/** The passphrase `source` gives; an InputError saying how when none. */
export async function askPassphrase(
  source: () => Promise<string | undefined>,
): Promise<string> {
  const pass = await source();
  if (pass !== undefined) return pass;
  throw new InputError(
    "The private key is passphrase-protected: set MYPAAS_KEY_PASSPHRASE or run on a terminal to be asked",
  );
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

/** The key of an OpenSSH private key file; `passphrase` is asked if needed. */
export async function readOpenSsh(
  text: string,
  passphrase: () => Promise<string | undefined>,
): Promise<KeyObject> {
  let parsed = ssh2.utils.parseKey(text);
  if (parsed instanceof Error && /no passphrase/.test(parsed.message)) {
    parsed = ssh2.utils.parseKey(text, await askPassphrase(passphrase));
    if (parsed instanceof Error && /passphrase/.test(parsed.message)) {
      throw new BadPassphraseError(
        "Wrong passphrase for the OpenSSH private key (or the file is corrupt)",
      );
    }
  }
  if (parsed instanceof Error) {
    throw new InputError(`Bad OpenSSH private key: ${parsed.message}`);
  }
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key?.type !== "ssh-rsa" && key?.type !== "ssh-ed25519") {
    throw new InputError(
      `Unsupported OpenSSH key type "${key?.type}"; use RSA or Ed25519`,
    );
  }
  return createPrivateKey(key.getPrivatePEM());
}
