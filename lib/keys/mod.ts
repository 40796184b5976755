/**
 * @module
 * Key pairs and signatures of the push protocol (MyPaas-compatible).
 */
export { type PassphraseSource, PrivateKey } from "./private_key.ts";
export { type KeyKind, PublicKey } from "./public_key.ts";
export {
  AuthorizedKeys,
  type KeyLookup,
  parseAuthorizedKeys,
} from "./authorized_keys.ts";
export { canonicalRequest, makeToken, tokenTime } from "./token.ts";
export {
  defaultKeyPath,
  loadClientKey,
  mypaasKeyPath,
  writeKeyFile,
} from "./key_file.ts";
export { BadPassphraseError } from "./pem.ts";
