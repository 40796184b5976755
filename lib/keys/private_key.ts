/**
 * @module
 * The client's private key: generated (Ed25519 by default, RSA-2048 for
 * MyPaas servers), read from PEM (plain or passphrase-encrypted PKCS#8,
 * PKCS#1 `RSA PRIVATE KEY`, MyPaas's one-line form with `_` for newlines,
 * OpenSSH), written as PKCS#8 PEM, and used to sign. node:crypto's
 * `KeyObject` does the key formats.
 */
import {
  constants,
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
} from "node:crypto";
import { InputError } from "../errors.ts";
import {
  askPassphrase,
  decryptPkcs8,
  encryptPkcs8,
  readOpenSsh,
} from "./pem.ts";
import { type KeyKind, PublicKey } from "./public_key.ts";

/** Asks for a passphrase when the key needs one (env var or prompt). */
export type PassphraseSource = () => Promise<string | undefined>;

/** A private key that signs for the push protocol. */
export class PrivateKey {
  private constructor(
    readonly kind: KeyKind,
    readonly key: KeyObject,
    readonly publicKey: PublicKey,
  ) {}

  /** Generates a new key pair. */
  static generate(kind: KeyKind = "ed25519"): Promise<PrivateKey> {
    const pair = kind === "rsa"
      ? generateKeyPairSync("rsa", { modulusLength: 2048 })
      : generateKeyPairSync("ed25519");
    return Promise.resolve(PrivateKey.fromKeyObject(pair.privateKey));
  }

  /** Reads a PEM text; `passphrase` is asked only for an encrypted key. */
  static async fromPem(
    text: string,
    passphrase: PassphraseSource = () => Promise.resolve(undefined),
  ): Promise<PrivateKey> {
    const pem = text.includes("\n") ? text : text.replaceAll("_", "\n");
    const label = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
    if (!label) {
      throw new InputError(
        'No PEM private key found (expected "-----BEGIN PRIVATE KEY-----"); create one with "mypaas key-gen"',
      );
    }
    if (pem.includes("Proc-Type: 4,ENCRYPTED")) {
      throw new InputError(
        'Legacy encrypted "RSA PRIVATE KEY" is not supported; convert with "openssl pkcs8 -topk8 -v2 aes-256-cbc"',
      );
    }
    switch (label) {
      case "PRIVATE KEY":
      case "RSA PRIVATE KEY":
        return PrivateKey.fromKeyObject(createPrivateKey(pem));
      case "OPENSSH PRIVATE KEY":
        return PrivateKey.fromKeyObject(await readOpenSsh(pem, passphrase));
      case "ENCRYPTED PRIVATE KEY": {
        const pass = await askPassphrase(passphrase);
        return PrivateKey.fromKeyObject(decryptPkcs8(pem, pass));
      }
      default:
        throw new InputError(`Unsupported PEM block "${label}"`);
    }
  }

  /** From a node:crypto private key (RSA or Ed25519). */
  static fromKeyObject(key: KeyObject): PrivateKey {
    const pub = PublicKey.fromKeyObject(key);
    return new PrivateKey(pub.kind, key, pub);
  }

  /** The fingerprint of the key pair. */
  get fingerprint(): string {
    return this.publicKey.fingerprint;
  }

  /** Signs `data`; returns base64 (standard alphabet, no newlines). */
  sign(data: Uint8Array): Promise<string> {
    const sig = this.kind === "rsa"
      ? sign("sha256", data, {
        key: this.key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: this.publicKey.saltLength,
      })
      : sign(null, data, this.key);
    return Promise.resolve(new Uint8Array(sig).toBase64());
  }

  /** PKCS#8 PEM, encrypted (PBKDF2-SHA256 + AES-256-CBC) when given a passphrase. */
  toPem(passphrase?: string): Promise<string> {
    if (passphrase) return Promise.resolve(encryptPkcs8(this.key, passphrase));
    return Promise.resolve(
      this.key.export({ type: "pkcs8", format: "pem" }) as string,
    );
  }
}
