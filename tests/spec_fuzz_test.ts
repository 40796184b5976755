/**
 * Property test of the comment parsers: thousands of random and mutated
 * files (real keys, valid values bent out of shape, random prefixes,
 * unicode, empty lines) must each give a spec or a SpecError pointing at a
 * line of the file, never any other error. Seeded, so a failure reproduces.
 */
import assert from "node:assert/strict";
import {
  type DeploySpec,
  KEY_NAMES,
  parseFunctionSpec,
  parseServiceSpec,
  SpecError,
  type SpecFlags,
} from "../lib/spec/mod.ts";

/** mulberry32: a small, fast, seedable PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALID: Record<string, string[]> = {
  service: ["web", "My App", "a_b.c"],
  url: ["https://example.com/api", "http://a.b.c", "https://x.io/"],
  volume: ["~/data:/data", "/srv:/srv", "vol:/var/lib"],
  env: ["A=1", "SECRET", "B = two words"],
  port: ["80", "8080", "65535"],
  publish: ["53:53/udp", "2222:22", "80:80/tcp"],
  scale: ["0", "3", "roll 2", "safe 4"],
  healthcheck: ["/up 5s 1s", "/health 1m 10s"],
  liveness: ["/l 10s 1s"],
  readiness: ["/r 500ms 200ms"],
  maxcpu: ["0.5", "2", "250m"],
  maxmem: ["512m", "1.5g", "100MiB"],
  autoscale: ["1..3", "2..8 cpu=70% mem=60%"],
  sticky: ["cookie", "cookie:S 1h", "cookie 600"],
  hash: ["ip", "header:X-A", "cookie:sid"],
  request: ["cpu=100m mem=128M", "cpu=1", "mem=1g"],
  logs: ["50m 5", "1k 1"],
  idle: ["5m", "90s"],
  domain: ["app.example.com", "x.io"],
  entrypoint: ["main.ts", "./src/app.js"],
};

const JUNK = [
  "",
  " ",
  "=",
  "==",
  ":",
  "..",
  "/",
  "~",
  "%",
  "\t",
  "\u0000",
  "\u00a0",
  "é",
  "ß",
  "日本",
  "🙂",
  "\ud800",
  "\u202e",
  "-1",
  "0",
  "1e309",
  "NaN",
  "99999999999999999999",
  "0x10",
  "1.",
  ".5",
  "5 s",
  "s",
  "m",
  "1..",
  "..2",
  "cookie:",
  "header:",
  "http://",
  "https://[::1]/",
  "a:b:c",
  "=x=y",
  "\\",
  "${HOME}",
  "'quoted'",
  '"dq"',
  "#",
  "//",
  "mypaas.url=x",
];

const PREFIXES = [
  "#",
  "# ",
  "//",
  "// ",
  "#---",
  "//---",
  "  #",
  "##",
  "///",
  "",
  "RUN ",
  "\t//\t",
  "/* ",
  "# #",
  "#\u00a0",
  "-- ",
  "#!",
  " // ",
];
const MARKS = [
  "mypaas.",
  "mypaas.",
  "mypaas.",
  "MYPAAS.",
  "mypaas",
  "mypaas..",
  "",
];
const SEPS = ["=", "=", " = ", "", "==", ":", "\t=\t"];

function makeFuzzer(rand: () => number) {
  const pick = <T>(list: readonly T[]): T =>
    list[Math.floor(rand() * list.length)]!;
  const randomText = (max: number) => {
    let s = "";
    const n = Math.floor(rand() * max);
    for (let i = 0; i < n; i++) {
      s += rand() < 0.7
        ? String.fromCharCode(32 + Math.floor(rand() * 95))
        : String.fromCodePoint(Math.floor(rand() * 0x2ffff));
    }
    return s;
  };
  const mutate = (value: string): string => {
    let v = value;
    for (let n = Math.floor(rand() * 3); n > 0; n--) {
      const at = Math.floor(rand() * (v.length + 1));
      switch (Math.floor(rand() * 5)) {
        case 0:
          v = v.slice(0, at) + v.slice(at + 1);
          break;
        case 1:
          v = v.slice(0, at) + pick(JUNK) + v.slice(at);
          break;
        case 2:
          v = `${v} ${v}`;
          break;
        case 3:
          v = v.replace(/\d+/, String(Math.floor(rand() * 2 ** (rand() * 40))));
          break;
        default:
          v = v.toUpperCase();
      }
    }
    return v;
  };
  const key = () =>
    rand() < 0.85
      ? pick(KEY_NAMES)
      : pick(["", "x", "URL", "url ", "ürl", randomText(6)]);
  const value = (k: string) => {
    const r = rand();
    if (r < 0.35) return pick(VALID[k.trim()] ?? [""]);
    if (r < 0.75) return mutate(pick(VALID[k.trim()] ?? JUNK));
    if (r < 0.9) return pick(JUNK);
    return randomText(30);
  };
  const line = () => {
    const r = rand();
    if (r < 0.1) return "";
    if (r < 0.15) return randomText(40);
    const k = key();
    return `${pick(PREFIXES)}${pick(MARKS)}${k}${pick(SEPS)}${value(k)}`;
  };
  const file = (style: "#" | "//") => {
    const lines: string[] = [];
    if (style === "#" && rand() < 0.8) lines.push("# mypaas.service=fuzz");
    for (let n = Math.floor(rand() * 8); n > 0; n--) lines.push(line());
    return lines.join(pick(["\n", "\n", "\r\n", "\r"]));
  };
  const flags = (): SpecFlags => ({
    ...(rand() < 0.3 ? { domains: [mutate(pick(VALID.domain!))] } : {}),
    ...(rand() < 0.3 ? { env: [mutate(pick(VALID.env!))] } : {}),
    ...(rand() < 0.3 ? { skipOptimize: rand() < 0.5 } : {}),
  });
  return { file, flags, randomText };
}

/** Calls `parse`; returns the spec, or the SpecError after checking it. */
function check(
  parse: () => DeploySpec,
  text: string,
  file: string,
): DeploySpec | SpecError {
  let out: DeploySpec;
  try {
    out = parse();
  } catch (err) {
    if (!(err instanceof SpecError)) {
      assert.fail(`not a SpecError for ${JSON.stringify(text)}: ${err}`);
    }
    const lines = text.split(/\r\n|\r|\n/).length;
    assert.ok(
      err.line >= 0 && err.line <= lines,
      `line ${err.line} of ${lines}`,
    );
    assert.ok(
      err.message.startsWith(err.file) &&
        (err.file === file || err.file.startsWith("--")),
      err.message,
    );
    return err;
  }
  assert.match(out.service, /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/);
  for (const u of out.urls) {
    assert.match(u.host, /^[a-z0-9.-]+$/);
    assert.ok(u.path.startsWith("/"));
  }
  assert.doesNotThrow(() => JSON.stringify(out));
  return out;
}

Deno.test("parseServiceSpec() and parseFunctionSpec() only return a spec or throw SpecError (20000 random files)", () => {
  const rand = prng(0x5eed);
  const fuzz = makeFuzzer(rand);
  let specs = 0, errors = 0;
  for (let i = 0; i < 10_000; i++) {
    const dockerfile = fuzz.file("#");
    const r1 = check(
      () =>
        parseServiceSpec(dockerfile, {
          file: "Dockerfile",
          env: { SECRET: "s" },
          home: "/h",
        }),
      dockerfile,
      "Dockerfile",
    );
    const entry = fuzz.file("//");
    const r2 = check(
      () =>
        parseFunctionSpec(entry, {
          file: "main.ts",
          env: { SECRET: "s" },
          home: "/h",
          name: rand() < 0.9 ? "fuzz" : fuzz.randomText(5),
          entrypoint: "main.ts",
          flags: fuzz.flags(),
        }),
      entry,
      "main.ts",
    );
    for (const r of [r1, r2]) r instanceof SpecError ? errors++ : specs++;
  }
  // Both outcomes must be common, or the generator is not exploring.
  assert.ok(specs > 2000, `only ${specs} specs`);
  assert.ok(errors > 2000, `only ${errors} errors`);
});
