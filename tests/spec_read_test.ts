import assert from "node:assert/strict";
import { InputError } from "../lib/errors.ts";
import { readSpec, SpecError } from "../lib/spec/mod.ts";
import {
  ALL_KEYS,
  HOME,
  MALFORMED,
  type Malformed,
  SECRETS,
} from "./spec_cases.ts";
import { ROOT, runMain } from "./_run_main.ts";

const OPTS = { env: SECRETS, home: HOME };

/** A temp dir holding `files`; removed by the returned function. */
async function tempDir(
  files: Record<string, string>,
  prefix = "mypaas-spec-",
): Promise<{ dir: string; done: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix });
  for (const [name, text] of Object.entries(files)) {
    const path = `${dir}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, text);
  }
  return { dir, done: () => Deno.remove(dir, { recursive: true }) };
}

Deno.test("readSpec() reads a Dockerfile directory as a service", async () => {
  const spec = await readSpec(`${ROOT}tests/fixtures/spec/all_keys`, {
    ...OPTS,
    displayDir: "all_keys",
  });
  assert.deepStrictEqual(spec, { ...ALL_KEYS, file: "all_keys/Dockerfile" });
});

Deno.test("readSpec() picks the entry point: flag, deno.json main, candidates, exports", async () => {
  const entry = async (files: Record<string, string>, flag?: string) => {
    const t = await tempDir(files);
    try {
      const spec = await readSpec(t.dir, {
        ...OPTS,
        ...(flag ? { options: { entrypoint: flag } } : {}),
      });
      assert.equal(spec.kind, "function");
      return spec.kind === "function" ? spec.entrypoint : "";
    } finally {
      await t.done();
    }
  };
  const code = "export default {}";
  assert.equal(
    await entry({ "index.ts": code, "server.ts": code }),
    "server.ts",
  );
  assert.equal(await entry({ "mod.ts": code, "main.js": code }), "main.js");
  assert.equal(
    await entry({
      "main.ts": code,
      "app.ts": code,
      "deno.json": `{"main":"./app.ts"}`,
    }),
    "app.ts",
  );
  assert.equal(
    await entry({
      "src/lib.ts": code,
      "deno.json": `{"exports":"./src/lib.ts"}`,
    }),
    "src/lib.ts",
  );
  assert.equal(
    await entry({ "main.ts": code, "other.ts": code }, "./other.ts"),
    "other.ts",
  );
});

Deno.test("readSpec() names a function after its directory", async () => {
  const t = await tempDir(
    { "main.ts": "// mypaas.url=https://x.example.com" },
    "My_Func.",
  );
  try {
    const spec = await readSpec(t.dir, OPTS);
    assert.match(spec.service, /^my-func-[a-z0-9-]+$/);
    assert.equal(spec.urls[0]!.url, "https://x.example.com");
  } finally {
    await t.done();
  }
});

Deno.test("readSpec() without a Dockerfile or entry point names the candidates", async () => {
  const t = await tempDir({ "README.md": "hi" });
  try {
    await assert.rejects(readSpec(t.dir, OPTS), (err: Error) => {
      assert.ok(err instanceof InputError);
      assert.ok(err.message.startsWith(`${t.dir}: no Dockerfile`), err.message);
      assert.ok(
        err.message.includes("main.ts, main.js, mod.ts, server.ts, index.ts"),
      );
      return true;
    });
    await assert.rejects(
      readSpec(t.dir, { ...OPTS, options: { entrypoint: "nope.ts" } }),
      /--entry-point: "nope.ts" is not a file/,
    );
    await assert.rejects(readSpec(`${t.dir}/missing`, OPTS), /not a directory/);
  } finally {
    await t.done();
  }
});

Deno.test("readSpec() refuses function flags for a Dockerfile and a missing comment entrypoint", async () => {
  const t = await tempDir({
    "svc/Dockerfile": "# mypaas.service=s\nFROM x",
    "fn/main.ts": "\n// mypaas.entrypoint=dist/app.js\n",
  });
  try {
    await assert.rejects(
      readSpec(`${t.dir}/svc`, { ...OPTS, options: { domains: ["a.com"] } }),
      (err: Error) => err instanceof SpecError && err.file === "--domain",
    );
    await assert.rejects(readSpec(`${t.dir}/fn`, OPTS), (err: Error) => {
      assert.ok(err instanceof SpecError);
      assert.equal(err.line, 2);
      assert.match(err.message, /"dist\/app.js", which is not a file/);
      return true;
    });
  } finally {
    await t.done();
  }
});

/** Runs `deno run -A main.ts ARGS` with HOME and MYPAAS_CONFIG set. */
function cli(args: string[], env: Record<string, string> = {}) {
  return runMain(args, { HOME, ...env });
}

async function withConfig<T>(fn: (config: string) => Promise<T>): Promise<T> {
  const t = await tempDir({ "config.toml": `[env]\nSECRET = "s3cret"\n` });
  try {
    return await fn(`${t.dir}/config.toml`);
  } finally {
    await t.done();
  }
}

Deno.test("mypaas spec --json prints every resolved value of a Dockerfile", async () => {
  await withConfig(async (config) => {
    const r = await cli(
      ["spec", "tests/fixtures/spec/all_keys", "--json"],
      { MYPAAS_CONFIG: config },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepStrictEqual(JSON.parse(r.stdout), {
      ...ALL_KEYS,
      file: "tests/fixtures/spec/all_keys/Dockerfile",
    });
  });
});

Deno.test("mypaas spec prints a function spec for people and exits 2 on bad input", async () => {
  const [human, noDir, noConfig] = await Promise.all([
    cli(["spec", "examples/hello-function", "--domain", "f.example.com"]),
    cli(["spec", "does/not/exist"]),
    cli(["spec", "examples/hello-function", "--config", "/nonexistent/c.toml"]),
  ]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^kind +function$/m);
  assert.match(human.stdout, /^service +hello-function$/m);
  assert.match(human.stdout, /^url +https:\/\/f\.example\.com$/m);
  assert.equal(noDir.code, 2);
  assert.match(noDir.stderr, /does\/not\/exist: not a directory/);
  assert.equal(noConfig.code, 2);
  assert.match(
    noConfig.stderr,
    /config file "\/nonexistent\/c.toml" does not exist/,
  );
});

/** The CLI arguments and files that reproduce a corpus case. */
function cliCase(
  c: Malformed,
): { files: Record<string, string>; args: string[] } {
  if (c.kind !== "function") return { files: { Dockerfile: c.text }, args: [] };
  const args: string[] = [];
  for (const d of c.flags?.domains ?? []) args.push("--domain", d);
  for (const e of c.flags?.env ?? []) args.push("--env", e);
  return { files: { "main.ts": c.text }, args };
}

// Every case is checked in-process by tests/spec_test.ts (SpecError, line,
// exit code 2); spawning the CLI for a spread of them keeps this file fast.
const CLI_CASES = MALFORMED.filter((c, i) => i % 6 === 0 || c.flags);

Deno.test(`mypaas spec exits 2 with file:line for ${CLI_CASES.length} malformed corpus cases`, async () => {
  assert.ok(CLI_CASES.length >= 15);
  await withConfig(async (config) => {
    const pending = [...CLI_CASES];
    const failures: string[] = [];
    const worker = async () => {
      for (let c = pending.shift(); c; c = pending.shift()) {
        const { files, args } = cliCase(c);
        const t = await tempDir(files);
        try {
          const r = await cli(["spec", t.dir, ...args], {
            MYPAAS_CONFIG: config,
          });
          const file = c.kind === "function" ? "main.ts" : "Dockerfile";
          const at = c.line > 0 ? `${t.dir}/${file}:${c.line}: ` : "";
          if (
            r.code !== 2 || !r.stderr.includes(at) ||
            !r.stderr.includes(c.expect)
          ) {
            failures.push(`${c.name}: exit ${r.code}: ${r.stderr.trim()}`);
          }
        } finally {
          await t.done();
        }
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    assert.deepStrictEqual(failures, []);
  });
});

Deno.test("examples/hello-function answers fetch() with its path", async () => {
  const mod = await import("../examples/hello-function/main.ts");
  const res = await mod.default.fetch(new Request("http://x/abc"));
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "Hello from mypaas at /abc\n");
});
