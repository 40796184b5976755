import { assert, assertEquals, assertRejects } from "./_push_assert.ts";
import {
  AuthorizedKeys,
  BadPassphraseError,
  canonicalRequest,
  loadClientKey,
  PrivateKey,
  PublicKey,
  tokenTime,
  writeKeyFile,
} from "../lib/keys/mod.ts";
import { InputError } from "../lib/errors.ts";
import { runMain } from "./_run_main.ts";

const fixture = JSON.parse(
  await Deno.readTextFile(
    new URL("./fixtures/keys/mypaas_rsa.json", import.meta.url),
  ),
) as Record<string, string>;
const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("a MyPaas rsa-pub key verifies a signature made by MyPaas (Python)", async () => {
  const pub = await PublicKey.parse(fixture.public!);
  assertEquals(pub.text, fixture.public);
  assertEquals(pub.fingerprint, fixture.fingerprint);
  assert(await pub.verify(fixture.sig_token!, enc(fixture.token!)));
  assert(!(await pub.verify(fixture.sig_token!, enc(fixture.token + "x"))));
});

Deno.test("a MyPaas one-line private key loads and signs what MyPaas verifies", async () => {
  const key = await PrivateKey.fromPem(fixture.private_plain!);
  assertEquals(key.kind, "rsa");
  assertEquals(key.publicKey.text, fixture.public);
  assertEquals(key.fingerprint, fixture.fingerprint);
  const sig = await key.sign(enc("hello"));
  const pub = await PublicKey.parse(fixture.public!);
  assert(await pub.verify(sig, enc("hello")));
  // MyPaas sends base64.encodebytes output (newlines) URL-quoted; a `+`
  // unquoted by a sloppy client arrives as a space: both still verify.
  const wrapped = sig.match(/.{1,76}/g)!.join("\n") + "\n";
  assert(await pub.verify(wrapped, enc("hello")));
  assert(await pub.verify(sig.replaceAll("+", " "), enc("hello")));
});

Deno.test("a passphrase-protected MyPaas key opens with the passphrase only", async () => {
  const key = await PrivateKey.fromPem(
    fixture.private_encrypted!,
    () => Promise.resolve(fixture.passphrase),
  );
  assertEquals(key.fingerprint, fixture.fingerprint);
  await assertRejects(
    () =>
      PrivateKey.fromPem(
        fixture.private_encrypted!,
        () => Promise.resolve("wrong"),
      ),
    BadPassphraseError,
  );
  await assertRejects(
    () => PrivateKey.fromPem(fixture.private_encrypted!),
    InputError,
    "passphrase-protected",
  );
});

Deno.test("an OpenSSL-encrypted PKCS#8 key (PBKDF2 + AES-256-CBC) opens", async () => {
  const key = await PrivateKey.generate("ed25519");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/k.pem`, await key.toPem());
    const out = await new Deno.Command("openssl", {
      args: [
        "pkcs8",
        "-topk8",
        "-v2",
        "aes-128-cbc",
        "-v2prf",
        "hmacWithSHA1",
        "-in",
        `${dir}/k.pem`,
        "-passout",
        "pass:s3cret",
      ],
    }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    const pem = new TextDecoder().decode(out.stdout);
    assert(pem.includes("ENCRYPTED PRIVATE KEY"));
    const back = await PrivateKey.fromPem(pem, () => Promise.resolve("s3cret"));
    assertEquals(back.fingerprint, key.fingerprint);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("OpenSSH private keys (ssh-keygen's default, MyPaas's ~/.ssh/id_rsa) load", async () => {
  const dir = await Deno.makeTempDir();
  const ssh = async (...args: string[]) => {
    const out = await new Deno.Command("ssh-keygen", { args, stdin: "null" })
      .output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout);
  };
  try {
    await ssh("-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", `${dir}/rsa`);
    const rsa = await PrivateKey.fromPem(await Deno.readTextFile(`${dir}/rsa`));
    const pkcs1 = (await ssh("-e", "-m", "PEM", "-f", `${dir}/rsa.pub`))
      .replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
    const fromSsh = await PublicKey.fromRsaDer(Uint8Array.fromBase64(pkcs1));
    assertEquals(rsa.publicKey.text, fromSsh.text);
    assert(await fromSsh.verify(await rsa.sign(enc("x")), enc("x")));

    await ssh("-q", "-t", "ed25519", "-N", "", "-f", `${dir}/ed`);
    const ed = await PrivateKey.fromPem(await Deno.readTextFile(`${dir}/ed`));
    const blob = Uint8Array.fromBase64(
      (await Deno.readTextFile(`${dir}/ed.pub`)).split(" ")[1]!,
    );
    const raw = await PublicKey.fromEd25519Raw(blob.subarray(blob.length - 32));
    assertEquals(ed.publicKey.text, raw.text);
    assert(await raw.verify(await ed.sign(enc("y")), enc("y")));

    // Passphrase-protected (bcrypt-pbkdf + aes256-ctr), as ssh-keygen writes.
    await ssh(
      "-q",
      "-t",
      "rsa",
      "-b",
      "2048",
      "-N",
      "secret",
      "-f",
      `${dir}/locked`,
    );
    const lockedText = await Deno.readTextFile(`${dir}/locked`);
    const opened = await PrivateKey.fromPem(
      lockedText,
      () => Promise.resolve("secret"),
    );
    const lockedPub = (await ssh("-e", "-m", "PEM", "-f", `${dir}/locked.pub`))
      .replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
    assertEquals(
      opened.publicKey.text,
      (await PublicKey.fromRsaDer(Uint8Array.fromBase64(lockedPub))).text,
    );
    await assertRejects(
      () => PrivateKey.fromPem(lockedText, () => Promise.resolve("wrong")),
      BadPassphraseError,
    );
    await assertRejects(
      () => PrivateKey.fromPem(lockedText),
      InputError,
      "MYPAAS_KEY_PASSPHRASE",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("our encrypted PEM round-trips and openssl can read it", async () => {
  const key = await PrivateKey.generate("rsa");
  const pem = await key.toPem("pw");
  const back = await PrivateKey.fromPem(pem, () => Promise.resolve("pw"));
  assertEquals(back.fingerprint, key.fingerprint);
  const p = new Deno.Command("openssl", {
    args: ["pkey", "-passin", "pass:pw", "-noout"],
    stdin: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(enc(pem));
  await w.close();
  const out = await p.output();
  assert(out.success, new TextDecoder().decode(out.stderr));
});

Deno.test("ed25519 keys: ed25519-pub- form, fingerprint, sign and verify", async () => {
  const key = await PrivateKey.generate();
  assertEquals(key.kind, "ed25519");
  const text = key.publicKey.text;
  assert(/^ed25519-pub-[A-Za-z0-9_-]{43}$/.test(text), text);
  assertEquals(key.fingerprint, text.slice(-10));
  const pub = await PublicKey.parse(`${text} laptop`);
  const sig = await key.sign(enc("data"));
  assert(await pub.verify(sig, enc("data")));
  assert(!(await pub.verify(sig, enc("dat4"))));
  const other = await PrivateKey.generate();
  assert(!(await pub.verify(await other.sign(enc("data")), enc("data"))));
});

Deno.test("PublicKey.parse() rejects what is not a key", async () => {
  await assertRejects(
    () => PublicKey.parse("ssh-rsa AAAA"),
    InputError,
    "rsa-pub-",
  );
  await assertRejects(
    () => PublicKey.parse("rsa-pub-AAAA"),
    InputError,
    "Malformed",
  );
});

Deno.test("AuthorizedKeys re-reads the file when it changes and skips bad lines", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/authorized_keys`;
  const a = await PrivateKey.generate();
  const b = await PrivateKey.generate("rsa");
  try {
    let now = 0;
    const warned: string[] = [];
    const keys = new AuthorizedKeys(file, {
      minCheckMs: 10,
      now: () => now,
      log: { ...silent, warn: (m) => warned.push(m) },
    });
    assertEquals(await keys.find(a.fingerprint), []);
    await Deno.writeTextFile(
      file,
      `# comment\n${a.publicKey.text}\nnonsense\n`,
    );
    now += 20;
    assertEquals((await keys.find(a.fingerprint))[0]?.text, a.publicKey.text);
    assert(warned.some((w) => w.includes(":3:")), warned.join());
    await Deno.writeTextFile(file, `${b.publicKey.text} ci\n`);
    now += 20;
    assertEquals(await keys.find(a.fingerprint), []);
    assertEquals((await keys.find(b.fingerprint))[0]?.kind, "rsa");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AuthorizedKeys finds a just-added key at once, despite the check interval", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/authorized_keys`;
  try {
    const a = await PrivateKey.generate();
    const b = await PrivateKey.generate();
    await Deno.writeTextFile(file, `${a.publicKey.text}\n`);
    const keys = new AuthorizedKeys(file, { minCheckMs: 1e9, now: () => 5 });
    assertEquals((await keys.find(a.fingerprint)).length, 1);
    assertEquals(await keys.find(b.fingerprint), []);
    await Deno.writeTextFile(file, `${b.publicKey.text}\n`, { append: true });
    assertEquals((await keys.find(b.fingerprint))[0]?.text, b.publicKey.text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("key files: 0600, no overwrite without force, env and MyPaas fallbacks", async () => {
  const home = await Deno.makeTempDir();
  try {
    await assertRejects(() => loadClientKey({ home }), InputError, "key-gen");
    const key = await PrivateKey.generate();
    const path = `${home}/.ssh/mypaas_key`;
    await writeKeyFile(path, await key.toPem());
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
    await assertRejects(() => writeKeyFile(path, "x"), InputError, "--force");
    assertEquals(
      (await loadClientKey({ home })).key.fingerprint,
      key.fingerprint,
    );
    const env = await loadClientKey({ home, envKey: fixture.private_plain });
    assertEquals(env.key.fingerprint, fixture.fingerprint);
    assertEquals(env.from, "MYPAAS_PRIVATE_KEY");
    await Deno.remove(path);
    await Deno.writeTextFile(`${home}/other.pem`, fixture.private_plain!);
    await Deno.writeTextFile(
      `${home}/.ssh/mypaas_rsa`,
      `file://${home}/other.pem`,
    );
    assertEquals(
      (await loadClientKey({ home })).key.fingerprint,
      fixture.fingerprint,
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("tokens carry the time; canonicalRequest sorts and drops signatures", () => {
  assertEquals(tokenTime("1700000000-abcdEFGH"), 1700000000);
  assertEquals(tokenTime("soon-abc"), undefined);
  const q = new URLSearchParams("token=t&sig1=x&service=web&id=F&sig2=y");
  assertEquals(
    canonicalRequest("post", "/daemon/remove", q),
    "POST /daemon/remove?id=F&service=web&token=t",
  );
});

const silent = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silent;
  },
};

Deno.test("mypaas key-gen --rsa with MYPAAS_KEY_PASSPHRASE writes an encrypted 0600 key that key-get opens", async () => {
  const home = await Deno.makeTempDir({ prefix: "mypaas_keys_" });
  const cli = (args: string[], env: Record<string, string> = {}) =>
    runMain(args, { HOME: home, ...env });
  try {
    const gen = await cli(["key-gen", "--rsa"], {
      MYPAAS_KEY_PASSPHRASE: "pp",
    });
    assertEquals(gen.code, 0, gen.stderr);
    const [pub, fp] = gen.stdout.trim().split("\n");
    assert(pub!.startsWith("rsa-pub-"), gen.stdout);
    const file = `${home}/.ssh/mypaas_key`;
    assertEquals((await Deno.stat(file)).mode! & 0o777, 0o600);
    assert((await Deno.readTextFile(file)).includes("ENCRYPTED PRIVATE KEY"));
    const locked = await cli(["key-get"]);
    assertEquals(locked.code, 2, locked.stderr);
    assert(locked.stderr.includes("MYPAAS_KEY_PASSPHRASE"), locked.stderr);
    const open = await cli(["key-get"], { MYPAAS_KEY_PASSPHRASE: "pp" });
    assertEquals(open.stdout.trim().split("\n"), [pub, fp]);
    const again = await cli(["key-gen"]);
    assertEquals(again.code, 2);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
