/**
 * @module
 * PEM armour and the encrypted PKCS#8 form OpenSSL and Python's
 * `cryptography` write (`ENCRYPTED PRIVATE KEY`: PBES2 = PBKDF2 + AES-CBC),
 * decrypted and written with WebCrypto only.
 */
import { InputError } from "../errors.ts";
import { intValue, oid, oidString, readDer, sequence, tlv } from "./der.ts";

/** The blocks of a PEM text: label and DER bytes. MyPaas writes `_` for newlines. */
export function readPem(text: string): { label: string; der: Uint8Array }[] {
  const clean = text.includes("\n") ? text : text.replaceAll("_", "\n");
  const out: { label: string; der: Uint8Array }[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (const m of clean.matchAll(re)) {
    const body = m[2]!.split("\n").filter((l) => l && !l.includes(":")).join(
      "",
    );
    out.push({
      label: m[1]!,
      der: Uint8Array.fromBase64(body.replace(/\s+/g, "")),
    });
  }
  return out;
}

/** PEM text of DER bytes, 64 columns. */
export function writePem(label: string, der: Uint8Array): string {
  const b64 = der.toBase64();
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${
    lines.join("\n")
  }\n-----END ${label}-----\n`;
}

const OID_PBES2 = "1.2.840.113549.1.5.13";
const OID_PBKDF2 = "1.2.840.113549.1.5.12";
const PRF: Record<string, string> = {
  "1.2.840.113549.2.7": "SHA-1",
  "1.2.840.113549.2.9": "SHA-256",
  "1.2.840.113549.2.10": "SHA-384",
  "1.2.840.113549.2.11": "SHA-512",
};
const AES_CBC: Record<string, number> = {
  "2.16.840.1.101.3.4.1.2": 16,
  "2.16.840.1.101.3.4.1.22": 24,
  "2.16.840.1.101.3.4.1.42": 32,
};

/** Thrown when a passphrase does not open the key. */
export class BadPassphraseError extends InputError {
  override name = "BadPassphraseError";
}

/** Decrypts an `ENCRYPTED PRIVATE KEY` (DER) to plain PKCS#8 DER. */
export async function decryptPkcs8(
  der: Uint8Array,
  passphrase: string,
): Promise<Uint8Array> {
  const unsupported = (what: string) =>
    new InputError(
      `Encrypted private key uses ${what}; only PBES2 with PBKDF2 and AES-CBC is supported (re-encrypt with "openssl pkcs8 -topk8 -v2 aes-256-cbc")`,
    );
  const top = readDer(der);
  const [algo, data] = top.children;
  const [scheme, params] = algo?.children ?? [];
  if (!scheme || oidString(scheme.value) !== OID_PBES2 || !params || !data) {
    throw unsupported("an old PKCS#5 v1 / PKCS#12 scheme");
  }
  const [kdf, enc] = params.children;
  const [kdfOid, kdfParams] = kdf?.children ?? [];
  if (!kdfOid || oidString(kdfOid.value) !== OID_PBKDF2 || !kdfParams) {
    throw unsupported("a key derivation other than PBKDF2 (e.g. scrypt)");
  }
  const [salt, iter, ...rest] = kdfParams.children;
  let hash = "SHA-1";
  for (const r of rest) {
    if (r.tag === 0x30 && r.children[0]) {
      const h = PRF[oidString(r.children[0].value)];
      if (!h) throw unsupported("an unknown PBKDF2 PRF");
      hash = h;
    }
  }
  const [encOid, iv] = enc?.children ?? [];
  const keyLen = encOid ? AES_CBC[oidString(encOid.value)] : undefined;
  if (!keyLen || !iv || !salt || !iter) {
    throw unsupported("a cipher other than AES-CBC");
  }
  const key = await deriveAesKey(passphrase, {
    salt: salt.value,
    iterations: intValue(iter.value),
    hash,
    keyLen,
  });
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-CBC", iv: iv.value.slice() },
        key,
        data.value.slice(),
      ),
    );
  } catch {
    throw new BadPassphraseError(
      "Wrong passphrase for the private key (set MYPAAS_KEY_PASSPHRASE or type it at the prompt)",
    );
  }
}

/** Encrypts plain PKCS#8 DER as OpenSSL's default: PBKDF2-SHA256 + AES-256-CBC. */
export async function encryptPkcs8(
  der: Uint8Array,
  passphrase: string,
  iterations = 100_000,
): Promise<Uint8Array> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(16));
  const key = await deriveAesKey(passphrase, {
    salt,
    iterations,
    hash: "SHA-256",
    keyLen: 32,
  });
  const data = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-CBC", iv }, key, der.slice()),
  );
  const intBytes = (n: number) => {
    const b: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) b.unshift(v & 0xff);
    if ((b[0] ?? 0) & 0x80) b.unshift(0);
    return tlv(0x02, new Uint8Array(b));
  };
  const algo = sequence(
    oid(OID_PBES2),
    sequence(
      sequence(
        oid(OID_PBKDF2),
        sequence(
          tlv(0x04, salt),
          intBytes(iterations),
          sequence(oid("1.2.840.113549.2.9"), tlv(0x05, new Uint8Array())),
        ),
      ),
      sequence(oid("2.16.840.1.101.3.4.1.42"), tlv(0x04, iv)),
    ),
  );
  return sequence(algo, tlv(0x04, data));
}

async function deriveAesKey(
  passphrase: string,
  o: { salt: Uint8Array; iterations: number; hash: string; keyLen: number },
): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(passphrase),
    "PBKDF2",
    false,
    ["deriveKey"],
  );
  return await crypto.subtle.deriveKey(
    {
      name: "PBKDF2",
      salt: o.salt.slice(),
      iterations: o.iterations,
      hash: o.hash,
    },
    base,
    { name: "AES-CBC", length: o.keyLen * 8 },
    false,
    ["decrypt", "encrypt"],
  );
}
