/**
 * @module
 * Public keys as they appear in `authorized_keys`, and signature checks.
 *
 * - `rsa-pub-<base64url of the PKCS#1 DER>`: MyPaas's form, unchanged. The
 *   signature is RSA-PSS with SHA-256, MGF1-SHA-256 and the maximum salt
 *   length (Python `PSS.MAX_LENGTH`), base64 encoded.
 * - `ed25519-pub-<base64url, no padding, of the 32 raw key bytes>`: ours,
 *   for Ed25519 keys; the signature is base64 of the 64-byte Ed25519
 *   signature.
 *
 * A key's fingerprint is the last 10 characters of that string, as in MyPaas.
 */
import { InputError } from "../errors.ts";
import { oid, readDer, sequence, tlv } from "./der.ts";

/** Key algorithms we sign with. */
export type KeyKind = "rsa" | "ed25519";

const RSA_PREFIX = "rsa-pub-";
const ED_PREFIX = "ed25519-pub-";

/** A public key that verifies signatures. */
export class PublicKey {
  private constructor(
    readonly kind: KeyKind,
    /** The `authorized_keys` form (canonical). */
    readonly text: string,
    readonly key: CryptoKey,
    readonly saltLength: number,
  ) {}

  /** The key's id: the last 10 characters of its text form. */
  get fingerprint(): string {
    return fingerprintOf(this.text);
  }

  /** Parses `rsa-pub-...` or `ed25519-pub-...`. */
  static async parse(line: string): Promise<PublicKey> {
    const s = line.trim().split(/\s+/)[0] ?? "";
    try {
      if (s.startsWith(RSA_PREFIX)) {
        return await PublicKey.fromRsaDer(
          base64Decode(s.slice(RSA_PREFIX.length)),
        );
      }
      if (s.startsWith(ED_PREFIX)) {
        return await PublicKey.fromEd25519Raw(
          base64Decode(s.slice(ED_PREFIX.length)),
        );
      }
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw new InputError(
        `Malformed public key "${short(s)}": ${(err as Error).message}`,
      );
    }
    throw new InputError(
      `Not a mypaas public key: "${
        short(s)
      }" (expected "rsa-pub-..." or "ed25519-pub-...", as "mypaas key-get" prints)`,
    );
  }

  /** From RSA public key DER, PKCS#1 (MyPaas) or SubjectPublicKeyInfo. */
  static async fromRsaDer(der: Uint8Array): Promise<PublicKey> {
    const top = readDer(der);
    let pkcs1: Uint8Array;
    if (top.children[0]?.tag === 0x02) pkcs1 = der;
    else {
      const bits = top.children[1];
      if (!bits || bits.tag !== 0x03) throw new SyntaxError("not an RSA key");
      pkcs1 = bits.value.subarray(1);
    }
    const spki = sequence(
      sequence(oid("1.2.840.113549.1.1.1"), tlv(0x05, new Uint8Array())),
      tlv(0x03, new Uint8Array([0, ...pkcs1])),
    );
    const key = await crypto.subtle.importKey(
      "spki",
      spki,
      { name: "RSA-PSS", hash: "SHA-256" },
      true,
      ["verify"],
    );
    const bits = (key.algorithm as RsaHashedKeyAlgorithm).modulusLength;
    const text = RSA_PREFIX + base64UrlEncode(pkcs1, true);
    return new PublicKey("rsa", text, key, maxPssSalt(bits));
  }

  /** From the 32 raw bytes of an Ed25519 public key. */
  static async fromEd25519Raw(raw: Uint8Array): Promise<PublicKey> {
    if (raw.length !== 32) throw new SyntaxError("an Ed25519 key has 32 bytes");
    const key = await crypto.subtle.importKey(
      "raw",
      raw.slice(),
      "Ed25519",
      true,
      [
        "verify",
      ],
    );
    return new PublicKey(
      "ed25519",
      ED_PREFIX + base64UrlEncode(raw, false),
      key,
      0,
    );
  }

  /** True when `signature` (base64) signs `data` with this key's private half. */
  async verify(signature: string, data: Uint8Array): Promise<boolean> {
    let sig: Uint8Array;
    try {
      sig = base64Decode(signature);
    } catch {
      return false;
    }
    const algo = this.kind === "rsa"
      ? { name: "RSA-PSS", saltLength: this.saltLength }
      : { name: "Ed25519" };
    try {
      return await crypto.subtle.verify(
        algo,
        this.key,
        sig.slice(),
        data.slice(),
      );
    } catch {
      return false;
    }
  }
}

/** The fingerprint of a public key text: its last 10 characters (MyPaas). */
export function fingerprintOf(text: string): string {
  return text.trim().slice(-10);
}

/** Python's `PSS.MAX_LENGTH` for SHA-256 and a modulus of `bits`. */
export function maxPssSalt(bits: number): number {
  return Math.ceil((bits - 1) / 8) - 32 - 2;
}

/** Decodes standard or URL-safe base64, ignoring whitespace and padding; a
 * space stands for a `+` that a query string turned into one. */
export function base64Decode(s: string): Uint8Array {
  let t = s.replace(/[\r\n\t]/g, "").replaceAll(" ", "+").replaceAll("-", "+")
    .replaceAll("_", "/").replace(/=+$/, "");
  if (!/^[A-Za-z0-9+/]*$/.test(t)) throw new SyntaxError("invalid base64");
  while (t.length % 4) t += "=";
  return Uint8Array.fromBase64(t);
}

/** URL-safe base64, with or without `=` padding. */
export function base64UrlEncode(b: Uint8Array, padding: boolean): string {
  return b.toBase64({ alphabet: "base64url", omitPadding: !padding });
}

function short(s: string): string {
  return s.length > 40 ? `${s.slice(0, 20)}...${s.slice(-10)}` : s;
}
