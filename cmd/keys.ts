// deno-lint-ignore-file no-console -- cmd/ is where output to a person belongs
/**
 * @module
 * `mypaas key-gen [--rsa] [--force]` and `mypaas key-get`: the client's key
 * pair. The private key lives in ~/.ssh/mypaas_key (0600); the public key
 * line goes into the server's `<data_dir>/authorized_keys`.
 */
import type { Command } from "commander";
import {
  defaultKeyPath,
  loadClientKey,
  type PrivateKey,
  PrivateKey as Key,
  writeKeyFile,
} from "../lib/keys/mod.ts";

/** HOME, for key paths. */
export function homeDir(): string {
  return Deno.env.get("HOME") ?? "/root";
}

/** Reads a line from the terminal without echo; undefined when not a TTY. */
export async function readSecret(
  question: string,
): Promise<string | undefined> {
  if (!Deno.stdin.isTerminal()) return undefined;
  const enc = new TextEncoder();
  await Deno.stderr.write(enc.encode(question));
  Deno.stdin.setRaw(true);
  const bytes: number[] = [];
  const buf = new Uint8Array(1);
  try {
    for (;;) {
      const n = await Deno.stdin.read(buf);
      if (n === null) break;
      const b = buf[0]!;
      if (b === 3) throw new Error("Interrupted");
      if (b === 13 || b === 10) break;
      if (b === 127 || b === 8) bytes.pop();
      else bytes.push(b);
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(enc.encode("\n"));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** The passphrase source for loading keys: MYPAAS_KEY_PASSPHRASE, else a prompt. */
export function passphraseSource(
  what: string,
): () => Promise<string | undefined> {
  return async () =>
    Deno.env.get("MYPAAS_KEY_PASSPHRASE") ??
      await readSecret(`Passphrase for ${what}: `);
}

/** Loads the client's key (file or MYPAAS_PRIVATE_KEY). */
export async function clientKey(): Promise<PrivateKey> {
  const home = homeDir();
  const { key } = await loadClientKey({
    home,
    envKey: Deno.env.get("MYPAAS_PRIVATE_KEY"),
    passphrase: passphraseSource(defaultKeyPath(home)),
  });
  return key;
}

function showPublic(key: PrivateKey): void {
  console.log(key.publicKey.text);
  console.log(`fingerprint: ${key.fingerprint}`);
}

/** Adds `key-gen` and `key-get`. */
export function registerKeys(program: Command): void {
  program.command("key-gen")
    .description(
      "create the client key pair in ~/.ssh/mypaas_key (Ed25519; --rsa for RSA-2048, as MyPaas servers expect)",
    )
    .option("--rsa", "RSA-2048 (RSA-PSS SHA-256) instead of Ed25519")
    .option("--force", "replace an existing key file")
    .action(async (opts: { rsa?: boolean; force?: boolean }) => {
      const path = defaultKeyPath(homeDir());
      const key = await Key.generate(opts.rsa ? "rsa" : "ed25519");
      let pass = Deno.env.get("MYPAAS_KEY_PASSPHRASE");
      if (pass === undefined && Deno.stdin.isTerminal()) {
        pass = await readSecret(
          "Passphrase to protect the key (empty for none): ",
        );
        if (pass) {
          const again = await readSecret("Same passphrase again: ");
          if (again !== pass) {
            throw new Error("The passphrases differ; nothing written");
          }
        }
      }
      await writeKeyFile(path, await key.toPem(pass || undefined), opts.force);
      console.error(
        `Private key written to ${path} (mode 0600). Keep it secret.`,
      );
      console.error(
        "Add this line to <data_dir>/authorized_keys on the server (~/_mypaas/authorized_keys):",
      );
      showPublic(key);
    });

  program.command("key-get")
    .description(
      "print the public key line (for authorized_keys) and its fingerprint",
    )
    .action(async () => {
      showPublic(await clientKey());
    });
}
