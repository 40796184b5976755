/**
 * @module
 * The client's private key: generated (Ed25519 by default, RSA-2048 for
 * MyPaas servers), read from PEM (plain or passphrase-encrypted PKCS#8,
 * PKCS#1 `RSA PRIVATE KEY`, MyPaas's one-line form with `_` for newlines,
 * OpenSSH), written as PKCS#8 PEM, and used to sign.
 */
import { InputError } from "../errors.ts";
import { oid, oidString, readDer, sequence, tlv } from "./der.ts";
import { opensshToPkcs8 } from "./openssh.ts";
import { decryptPkcs8, encryptPkcs8, readPem, writePem } from "./pem.ts";
import { type KeyKind, maxPssSalt, PublicKey } from "./public_key.ts";

const OID_RSA = "1.2.840.113549.1.1.1";
const OID_ED25519 = "1.3.101.112";

/** Asks for a passphrase when the key needs one (env var or prompt). */
export type PassphraseSource = () => Promise<string | undefined>;

/** A private key that signs for the push protocol. */
export class PrivateKey {
  private constructor(
    readonly kind: KeyKind,
    readonly key: CryptoKey,
    readonly publicKey: PublicKey,
  ) {}

  /** Generates a new key pair. */
  static async generate(kind: KeyKind = "ed25519"): Promise<PrivateKey> {
    const pair = kind === "rsa"
      ? await crypto.subtle.generateKey(
        {
          name: "RSA-PSS",
          modulusLength: 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: "SHA-256",
        },
        true,
        ["sign", "verify"],
      )
      : await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
        "sign",
        "verify",
      ]) as CryptoKeyPair;
    const pkcs8 = new Uint8Array(
      await crypto.subtle.exportKey("pkcs8", pair.privateKey),
    );
    return await PrivateKey.fromPkcs8(pkcs8);
  }

  /** Reads a PEM text; `passphrase` is asked only for an encrypted key. */
  static async fromPem(
    text: string,
    passphrase: PassphraseSource = () => Promise.resolve(undefined),
  ): Promise<PrivateKey> {
    const block = readPem(text)[0];
    if (!block) {
      throw new InputError(
        'No PEM private key found (expected "-----BEGIN PRIVATE KEY-----"); create one with "mypaas key-gen"',
      );
    }
    if (text.includes("Proc-Type: 4,ENCRYPTED")) {
      throw new InputError(
        'Legacy encrypted "RSA PRIVATE KEY" is not supported; convert with "openssl pkcs8 -topk8 -v2 aes-256-cbc"',
      );
    }
    switch (block.label) {
      case "PRIVATE KEY":
        return await PrivateKey.fromPkcs8(block.der);
      case "OPENSSH PRIVATE KEY":
        return await PrivateKey.fromPkcs8(
          await opensshToPkcs8(block.der, passphrase),
        );
      case "RSA PRIVATE KEY":
        return await PrivateKey.fromPkcs8(wrapPkcs1(block.der));
      case "ENCRYPTED PRIVATE KEY": {
        const pass = await passphrase();
        if (pass === undefined) {
          throw new InputError(
            "The private key is passphrase-protected: set MYPAAS_KEY_PASSPHRASE or run on a terminal to be asked",
          );
        }
        return await PrivateKey.fromPkcs8(await decryptPkcs8(block.der, pass));
      }
      default:
        throw new InputError(`Unsupported PEM block "${block.label}"`);
    }
  }

  /** From plain PKCS#8 DER (RSA or Ed25519). */
  static async fromPkcs8(der: Uint8Array): Promise<PrivateKey> {
    const algo = readDer(der).children[1]?.children[0];
    const id = algo ? oidString(algo.value) : "";
    if (id === OID_RSA) {
      const key = await crypto.subtle.importKey(
        "pkcs8",
        der.slice(),
        { name: "RSA-PSS", hash: "SHA-256" },
        true,
        ["sign"],
      );
      const jwk = await crypto.subtle.exportKey("jwk", key);
      const pubKey = await crypto.subtle.importKey(
        "jwk",
        { kty: "RSA", n: jwk.n, e: jwk.e, alg: "PS256", ext: true },
        { name: "RSA-PSS", hash: "SHA-256" },
        true,
        ["verify"],
      );
      const spki = new Uint8Array(
        await crypto.subtle.exportKey("spki", pubKey),
      );
      return new PrivateKey("rsa", key, await PublicKey.fromRsaDer(spki));
    }
    if (id === OID_ED25519) {
      const key = await crypto.subtle.importKey(
        "pkcs8",
        der.slice(),
        "Ed25519",
        true,
        [
          "sign",
        ],
      );
      const jwk = await crypto.subtle.exportKey("jwk", key);
      const raw = Uint8Array.fromBase64(jwk.x ?? "", { alphabet: "base64url" });
      return new PrivateKey(
        "ed25519",
        key,
        await PublicKey.fromEd25519Raw(raw),
      );
    }
    throw new InputError(
      `Unsupported private key algorithm (OID ${
        id || "unknown"
      }); use RSA or Ed25519`,
    );
  }

  /** The fingerprint of the key pair. */
  get fingerprint(): string {
    return this.publicKey.fingerprint;
  }

  /** Signs `data`; returns base64 (standard alphabet, no newlines). */
  async sign(data: Uint8Array): Promise<string> {
    const algo = this.kind === "rsa"
      ? {
        name: "RSA-PSS",
        saltLength: maxPssSalt(
          (this.key.algorithm as RsaHashedKeyAlgorithm).modulusLength,
        ),
      }
      : { name: "Ed25519" };
    const sig = await crypto.subtle.sign(algo, this.key, data.slice());
    return new Uint8Array(sig).toBase64();
  }

  /** PKCS#8 PEM, encrypted (PBKDF2-SHA256 + AES-256-CBC) when given a passphrase. */
  async toPem(passphrase?: string): Promise<string> {
    const der = new Uint8Array(
      await crypto.subtle.exportKey("pkcs8", this.key),
    );
    if (!passphrase) return writePem("PRIVATE KEY", der);
    return writePem(
      "ENCRYPTED PRIVATE KEY",
      await encryptPkcs8(der, passphrase),
    );
  }
}

/** Wraps a PKCS#1 RSAPrivateKey in a PKCS#8 PrivateKeyInfo. */
function wrapPkcs1(pkcs1: Uint8Array): Uint8Array {
  return sequence(
    tlv(0x02, new Uint8Array([0])),
    sequence(oid(OID_RSA), tlv(0x05, new Uint8Array())),
    tlv(0x04, pkcs1),
  );
}
