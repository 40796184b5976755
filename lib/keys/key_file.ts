/**
 * @module
 * Where the client's private key lives: `~/.ssh/mypaas_key` (mode 0600), or
 * MyPaas's `~/.ssh/mypaas_rsa` (which may hold `file://OTHER`), or the
 * `MYPAAS_PRIVATE_KEY` value for CI. The caller passes HOME and env values.
 */
import { InputError } from "../errors.ts";
import { type PassphraseSource, PrivateKey } from "./private_key.ts";

/** Where to look for the key. */
export interface KeySource {
  home: string;
  /** Value of MYPAAS_PRIVATE_KEY (PEM, `_` for newlines allowed). */
  envKey?: string | undefined;
  passphrase?: PassphraseSource;
}

/** The default key path for new keys. */
export function defaultKeyPath(home: string): string {
  return `${home}/.ssh/mypaas_key`;
}

/** MyPaas's key path, read when ours is missing. */
export function mypaasKeyPath(home: string): string {
  return `${home}/.ssh/mypaas_rsa`;
}

/** Loads the client's private key and says where it came from. */
export async function loadClientKey(
  src: KeySource,
): Promise<{ key: PrivateKey; from: string }> {
  if (src.envKey?.trim()) {
    return {
      key: await PrivateKey.fromPem(src.envKey, src.passphrase),
      from: "MYPAAS_PRIVATE_KEY",
    };
  }
  for (const path of [defaultKeyPath(src.home), mypaasKeyPath(src.home)]) {
    let text: string;
    try {
      text = (await Deno.readTextFile(path)).trim();
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw err;
    }
    let from = path;
    if (text.startsWith("file://")) {
      from = text.slice("file://".length);
      text = await Deno.readTextFile(from);
    }
    return { key: await PrivateKey.fromPem(text, src.passphrase), from };
  }
  throw new InputError(
    `No private key: ${
      defaultKeyPath(src.home)
    } does not exist and MYPAAS_PRIVATE_KEY is not set; run "mypaas key-gen"`,
  );
}

/** Writes a new key file with mode 0600; refuses to overwrite unless `force`. */
export async function writeKeyFile(
  path: string,
  pem: string,
  force = false,
): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  if (dir) await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    await Deno.writeTextFile(path, pem, { mode: 0o600, createNew: !force });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) {
      throw new InputError(
        `${path} already exists; use --force to replace it (the old key stops working on servers that know only it)`,
      );
    }
    throw err;
  }
  await Deno.chmod(path, 0o600);
}
