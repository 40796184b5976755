/**
 * @module
 * OpenSSH private keys (`-----BEGIN OPENSSH PRIVATE KEY-----`, the
 * `ssh-keygen` default): MyPaas lets users point at `~/.ssh/id_rsa`. ssh2's
 * parser reads them, passphrase-protected ones (bcrypt-pbkdf + AES-CTR)
 * included, and gives the key as PEM for node:crypto.
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import ssh2 from "ssh2";
import { InputError } from "../errors.ts";
import { BadPassphraseError } from "./pem.ts";

/** The key of an OpenSSH private key file; `passphrase` is asked if needed. */
export async function readOpenSsh(
  text: string,
  passphrase: () => Promise<string | undefined>,
): Promise<KeyObject> {
  let parsed = ssh2.utils.parseKey(text);
  if (parsed instanceof Error && /no passphrase/.test(parsed.message)) {
    const pass = await passphrase();
    if (pass === undefined) {
      throw new InputError(
        "The private key is passphrase-protected: set MYPAAS_KEY_PASSPHRASE or run on a terminal to be asked",
      );
    }
    parsed = ssh2.utils.parseKey(text, pass);
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
