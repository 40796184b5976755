/**
 * @module
 * OpenSSH private keys (`-----BEGIN OPENSSH PRIVATE KEY-----`, the
 * `ssh-keygen` default): MyPaas lets users point at `~/.ssh/id_rsa`, so such
 * RSA (and Ed25519) keys are turned into PKCS#8 for WebCrypto. A passphrase
 * (bcrypt-pbkdf + AES-CTR, what `ssh-keygen` writes) is supported; the
 * key derivation comes from the `bcrypt-pbkdf` package, which WebCrypto
 * lacks.
 */
import bcryptPbkdf from "bcrypt-pbkdf";
import { InputError } from "../errors.ts";
import { oid, sequence, tlv } from "./der.ts";
import { BadPassphraseError } from "./pem.ts";

// The package is CommonJS without types: `pbkdf()` returns 0 on success.
const bcrypt = bcryptPbkdf as unknown as {
  pbkdf(
    pass: Uint8Array,
    passLen: number,
    salt: Uint8Array,
    saltLen: number,
    key: Uint8Array,
    keyLen: number,
    rounds: number,
  ): number;
};

/** PKCS#8 DER of an OpenSSH private key (DER of its `openssh-key-v1` blob). */
export async function opensshToPkcs8(
  blob: Uint8Array,
  passphrase: () => Promise<string | undefined>,
): Promise<Uint8Array<ArrayBuffer>> {
  const r = new SshReader(blob);
  const magic = new TextDecoder().decode(r.bytes(15));
  if (magic !== "openssh-key-v1\0") {
    throw new InputError("Not an OpenSSH private key (bad magic)");
  }
  const cipher = r.text();
  const kdf = r.text();
  const kdfOptions = new SshReader(r.string());
  if (r.u32() !== 1) {
    throw new InputError("OpenSSH key file holds more than one key");
  }
  r.string(); // public key
  let section = r.string();
  if (cipher !== "none") {
    const keyLen = CTR_KEY_BYTES[cipher];
    if (!keyLen || kdf !== "bcrypt") {
      throw new InputError(
        `OpenSSH key encrypted with ${cipher}/${kdf} is not supported; write a PKCS#8 copy with "ssh-keygen -p -m PKCS8 -f FILE" (it keeps the passphrase)`,
      );
    }
    const pass = await passphrase();
    if (pass === undefined) {
      throw new InputError(
        "The private key is passphrase-protected: set MYPAAS_KEY_PASSPHRASE or run on a terminal to be asked",
      );
    }
    section = await decryptSection(section, pass, kdfOptions, keyLen);
  }
  const p = new SshReader(section);
  if (p.u32() !== p.u32()) {
    throw new BadPassphraseError(
      "Wrong passphrase for the OpenSSH private key (or the file is corrupt)",
    );
  }
  const type = p.text();
  if (type === "ssh-ed25519") {
    p.string(); // public
    const priv = p.string();
    return sequence(
      tlv(0x02, new Uint8Array([0])),
      sequence(oid("1.3.101.112")),
      tlv(0x04, tlv(0x04, priv.subarray(0, 32))),
    );
  }
  if (type === "ssh-rsa") {
    const n = p.mpint(), e = p.mpint(), d = p.mpint();
    const iqmp = p.mpint(), pp = p.mpint(), q = p.mpint();
    const rsa = sequence(
      ...[0n, n, e, d, pp, q, d % (pp - 1n), d % (q - 1n), iqmp].map(derInt),
    );
    return sequence(
      tlv(0x02, new Uint8Array([0])),
      sequence(oid("1.2.840.113549.1.1.1"), tlv(0x05, new Uint8Array())),
      tlv(0x04, rsa),
    );
  }
  throw new InputError(
    `Unsupported OpenSSH key type "${type}"; use RSA or Ed25519`,
  );
}

/** Key bytes of the AES-CTR ciphers `ssh-keygen` uses (aes256-ctr by default). */
const CTR_KEY_BYTES: Record<string, number> = {
  "aes128-ctr": 16,
  "aes192-ctr": 24,
  "aes256-ctr": 32,
};

async function decryptSection(
  data: Uint8Array,
  pass: string,
  kdfOptions: SshReader,
  keyLen: number,
): Promise<Uint8Array> {
  const salt = kdfOptions.string();
  const rounds = kdfOptions.u32();
  const passBytes = new TextEncoder().encode(pass);
  const out = new Uint8Array(keyLen + 16);
  if (
    bcrypt.pbkdf(
      passBytes,
      passBytes.length,
      salt,
      salt.length,
      out,
      out.length,
      rounds,
    ) !== 0
  ) {
    throw new InputError("OpenSSH key: bcrypt-pbkdf failed (bad KDF options)");
  }
  const key = await crypto.subtle.importKey(
    "raw",
    out.slice(0, keyLen),
    "AES-CTR",
    false,
    ["decrypt"],
  );
  return new Uint8Array(
    await crypto.subtle.decrypt(
      { name: "AES-CTR", counter: out.slice(keyLen), length: 128 },
      key,
      data.slice(),
    ),
  );
}

function derInt(v: bigint): Uint8Array<ArrayBuffer> {
  let hex = v.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = "00" + hex;
  return tlv(0x02, Uint8Array.fromHex(hex));
}

/** Reads the SSH wire encoding (RFC 4251). */
class SshReader {
  #at = 0;
  constructor(readonly buf: Uint8Array) {}

  bytes(n: number): Uint8Array {
    if (this.#at + n > this.buf.length) {
      throw new InputError("OpenSSH private key is truncated");
    }
    const out = this.buf.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }

  u32(): number {
    const b = this.bytes(4);
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  }

  string(): Uint8Array {
    return this.bytes(this.u32());
  }

  text(): string {
    return new TextDecoder().decode(this.string());
  }

  mpint(): bigint {
    const b = this.string();
    return b.length ? BigInt("0x" + b.toHex()) : 0n;
  }
}
