import assert from "node:assert/strict";
import {
  parseFunctionSpec,
  parseServiceSpec,
  type ServiceSpec,
  SpecError,
} from "../lib/spec/mod.ts";
import { InputError } from "../lib/errors.ts";
import { exitCodeFor } from "../cmd/_exit.ts";
import { ALL_KEYS, HOME, MALFORMED, SECRETS } from "./spec_cases.ts";

const FIXTURES = new URL("./fixtures/spec/", import.meta.url);

function service(text: string, file = "Dockerfile"): ServiceSpec {
  return parseServiceSpec(text, { file, env: SECRETS, home: HOME });
}

Deno.test("parseServiceSpec() resolves every key of a Dockerfile", async () => {
  const text = await Deno.readTextFile(
    new URL("all_keys/Dockerfile", FIXTURES),
  );
  assert.deepStrictEqual(service(text), { ...ALL_KEYS, file: "Dockerfile" });
});

Deno.test("parseServiceSpec() defaults: port 80, recreate with one replica, nothing else", () => {
  assert.deepStrictEqual(service("# mypaas.service=web\nFROM x\n"), {
    kind: "service",
    service: "web",
    file: "Dockerfile",
    urls: [],
    volumes: [],
    env: {},
    port: 80,
    publish: [],
    scale: { strategy: "recreate", replicas: 1 },
  });
});

Deno.test("parseServiceSpec() reads scale as MyPaas does", () => {
  const scale = (v: string) =>
    service(`# mypaas.service=a\n# mypaas.scale=${v}`).scale;
  assert.deepStrictEqual(scale("0"), { strategy: "recreate", replicas: 1 });
  assert.deepStrictEqual(scale("1"), { strategy: "rolling", replicas: 1 });
  assert.deepStrictEqual(scale("4"), { strategy: "rolling", replicas: 4 });
  assert.deepStrictEqual(scale("roll 2"), { strategy: "rolling", replicas: 2 });
  assert.deepStrictEqual(scale("safe  5"), { strategy: "safe", replicas: 5 });
});

Deno.test("parseServiceSpec() sanitises service names to [a-z0-9-]", () => {
  const name = (v: string) => service(`# mypaas.service=${v}`).service;
  assert.equal(name("My App"), "my-app");
  assert.equal(name("--foo__bar--"), "foo-bar");
  assert.equal(name("Ünïcode"), "n-code");
  assert.equal(name("x".repeat(80)), "x".repeat(63));
});

Deno.test("parseServiceSpec() accepts sticky, hash, request and autoscale variants", () => {
  const spec = (lines: string) => service(`# mypaas.service=a\n${lines}`);
  assert.deepStrictEqual(spec("# mypaas.sticky=cookie").sticky, {
    cookie: "mypaas_sticky",
  });
  assert.deepStrictEqual(spec("# mypaas.sticky=cookie 600").sticky, {
    cookie: "mypaas_sticky",
    maxAgeS: 600,
  });
  assert.deepStrictEqual(spec("# mypaas.hash=ip").hash, { by: "ip" });
  assert.deepStrictEqual(spec("# mypaas.hash=cookie:Sid").hash, {
    by: "cookie",
    name: "Sid",
  });
  assert.deepStrictEqual(spec("# mypaas.request=mem=1g").request, {
    mem: 1024 ** 3,
  });
  assert.deepStrictEqual(spec("# mypaas.autoscale=1..1").autoscale, {
    min: 1,
    max: 1,
    cpuPct: 80,
    memPct: 80,
  });
  assert.deepStrictEqual(
    spec("# mypaas.autoscale=1..3 mem=50% cpu=90").autoscale,
    { min: 1, max: 3, cpuPct: 90, memPct: 50 },
  );
  assert.equal(spec("# mypaas.maxcpu=500m").maxcpu, 0.5);
  assert.equal(spec("# mypaas.maxmem=512m").maxmem, 512 * 1024 ** 2);
});

Deno.test("parseServiceSpec() reads CRLF files, a BOM and IDN hosts", () => {
  const spec = service(
    "\uFEFF# mypaas.service=a\r\n# mypaas.url=https://bücher.example/\r\n",
  );
  assert.equal(spec.urls[0]!.host, "xn--bcher-kva.example");
  assert.equal(spec.urls[0]!.url, "https://xn--bcher-kva.example");
});

Deno.test("parseServiceSpec() ignores non-comment lines and other comments", () => {
  const spec = service(
    [
      "RUN echo mypaas.url=https://nope.example.com",
      "# mypaas.service=a",
      "// mypaas.url=https://also-nope.example.com",
      "# see mypaas.io? not at the start, ignored",
      "#--- mypaas.bogus=disabled lines are not checked",
    ].join("\n"),
  );
  assert.deepStrictEqual(spec.urls, []);
});

for (const c of MALFORMED) {
  Deno.test(`${c.kind === "function" ? "parseFunctionSpec" : "parseServiceSpec"}() rejects ${c.name}`, () => {
    let caught: unknown;
    try {
      if (c.kind === "function") {
        parseFunctionSpec(c.text, {
          file: "main.ts",
          env: SECRETS,
          home: HOME,
          name: "fn",
          entrypoint: "main.ts",
          ...(c.flags ? { flags: c.flags } : {}),
        });
      } else service(c.text);
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof SpecError, `got ${caught}`);
    assert.ok(caught instanceof InputError);
    assert.equal(exitCodeFor(caught), 2);
    assert.equal(caught.line, c.line, caught.message);
    assert.ok(
      caught.message.includes(c.expect),
      `${JSON.stringify(caught.message)} lacks ${JSON.stringify(c.expect)}`,
    );
    const prefix = c.line > 0
      ? `${caught.file}:${c.line}: `
      : `${caught.file}: `;
    assert.ok(caught.message.startsWith(prefix), caught.message);
  });
}

Deno.test("the malformed corpus has at least 40 cases", () => {
  assert.ok(MALFORMED.length >= 40, `${MALFORMED.length}`);
});

Deno.test("SpecError messages name file:line, key, grammar and value", () => {
  assert.throws(
    () => service("# mypaas.service=a\n\n# mypaas.healthcheck=/up 5s"),
    {
      name: "SpecError",
      message:
        `Dockerfile:3: mypaas.healthcheck needs "/path interval timeout": got "/up 5s"`,
    },
  );
});

Deno.test("parseFunctionSpec() resolves comments and ddng-style flags", async () => {
  const text = await Deno.readTextFile(
    new URL("function_flags/main.ts", FIXTURES),
  );
  const spec = parseFunctionSpec(text, {
    file: "main.ts",
    env: { ...SECRETS, TOKEN: "t0k" },
    home: HOME,
    name: "function_flags",
    entrypoint: "main.ts",
    flags: {
      domains: ["Flag.Example.com"],
      env: ["MODE=dev", "TOKEN"],
      skipOptimize: true,
    },
  });
  const https = (host: string, path = "/") => ({
    url: `https://${host}${path === "/" ? "" : path}`,
    scheme: "https",
    host,
    path,
  });
  assert.deepStrictEqual(spec, {
    kind: "function",
    service: "fancy-function",
    entrypoint: "main.ts",
    urls: [
      https("fn.example.com", "/v1"),
      https("fn2.example.com"),
      https("flag.example.com"),
    ],
    env: { MODE: "dev", SECRET: "s3cret", TOKEN: "t0k" },
    skipOptimize: true,
    idleMs: 90_000,
  });
});

Deno.test("parseFunctionSpec() names the deployment after the directory by default", () => {
  const spec = parseFunctionSpec("export default {}", {
    file: "main.ts",
    env: {},
    home: HOME,
    name: "Hello_World",
    entrypoint: "main.ts",
  });
  assert.equal(spec.service, "hello-world");
  assert.equal(spec.skipOptimize, false);
  assert.deepStrictEqual(spec.urls, []);
});
