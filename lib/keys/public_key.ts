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
import { Buffer } from "node:buffer";
import {
  constants,
  createPublicKey,
  type KeyObject,
  verify,
} from "node:crypto";
import { InputError } from "../errors.ts";

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
    readonly key: KeyObject,
    readonly saltLength: number,
  ) {}

  /** The key's id: the last 10 characters of its text form (MyPaas). */
  get fingerprint(): string {
    return this.text.slice(-10);
  }

  /** Parses `rsa-pub-...` or `ed25519-pub-...`. */
  // deno-lint-ignore require-await
  static async parse(line: string): Promise<PublicKey> {
    const s = line.trim().split(/\s+/)[0] ?? "";
    const [prefix, from] = s.startsWith(RSA_PREFIX)
      ? [RSA_PREFIX, PublicKey.fromRsaDer]
      : s.startsWith(ED_PREFIX)
      ? [ED_PREFIX, PublicKey.fromEd25519Raw]
      : [];
    if (!prefix || !from) {
      throw new InputError(
        `Not a mypaas public key: "${
          short(s)
        }" (expected "rsa-pub-..." or "ed25519-pub-...", as "mypaas key-get" prints)`,
      );
    }
    try {
      return from(base64Decode(s.slice(prefix.length)));
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw new InputError(
        `Malformed public key "${short(s)}": ${(err as Error).message}`,
      );
    }
  }

  /** From RSA public key DER, PKCS#1 (MyPaas) or SubjectPublicKeyInfo. */
  static fromRsaDer(der: Uint8Array): PublicKey {
    const key = Buffer.from(der);
    let obj: KeyObject;
    try {
      obj = createPublicKey({ key, format: "der", type: "pkcs1" });
    } catch {
      obj = createPublicKey({ key, format: "der", type: "spki" });
    }
    return PublicKey.fromKeyObject(obj);
  }

  /** From the 32 raw bytes of an Ed25519 public key. */
  static fromEd25519Raw(raw: Uint8Array): PublicKey {
    if (raw.length !== 32) throw new SyntaxError("an Ed25519 key has 32 bytes");
    const x = raw.toBase64({ alphabet: "base64url", omitPadding: true });
    const key = { kty: "OKP", crv: "Ed25519", x };
    return PublicKey.fromKeyObject(createPublicKey({ key, format: "jwk" }));
  }

  /** From a node:crypto public (or private) RSA or Ed25519 key. */
  static fromKeyObject(key: KeyObject): PublicKey {
    const pub = key.type === "public" ? key : createPublicKey(key);
    if (pub.asymmetricKeyType === "rsa") {
      const pkcs1 = pub.export({ type: "pkcs1", format: "der" });
      const bits = pub.asymmetricKeyDetails?.modulusLength ?? 0;
      const text = RSA_PREFIX + pkcs1.toBase64({ alphabet: "base64url" });
      // Python's `PSS.MAX_LENGTH` for SHA-256, as MyPaas signs.
      return new PublicKey("rsa", text, pub, Math.ceil((bits - 1) / 8) - 34);
    }
    if (pub.asymmetricKeyType === "ed25519") {
      const x = pub.export({ format: "jwk" }).x ?? "";
      return new PublicKey("ed25519", ED_PREFIX + x, pub, 0);
    }
    throw new InputError(
      `Unsupported key algorithm "${pub.asymmetricKeyType}"; use RSA or Ed25519`,
    );
  }

  /** True when `signature` (base64) signs `data` with this key's private half. */
  // deno-lint-ignore require-await
  async verify(signature: string, data: Uint8Array): Promise<boolean> {
    try {
      const sig = base64Decode(signature);
      if (this.kind === "ed25519") return verify(null, data, this.key, sig);
      const { saltLength, key } = this;
      const padding = constants.RSA_PKCS1_PSS_PADDING;
      return verify("sha256", data, { key, padding, saltLength }, sig);
    } catch {
      return false;
    }
  }
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

function short(s: string): string {
  return s.length > 40 ? `${s.slice(0, 20)}...${s.slice(-10)}` : s;
}
