/**
 * Shared cases of the spec tests: the malformed-input corpus (kept in
 * tests/fixtures/spec/malformed.txt) and the resolved every-key Dockerfile.
 */
import type { ServiceSpec, SpecFlags } from "../lib/spec/mod.ts";

/** `[env]` the cases resolve bare env names against. */
export const SECRETS = { SECRET: "s3cret" };
/** HOME the cases expand `~` with. */
export const HOME = "/home/tester";

/** The resolved spec of tests/fixtures/spec/all_keys/Dockerfile. */
export const ALL_KEYS: Omit<ServiceSpec, "file"> = {
  kind: "service",
  service: "my-app-v2",
  urls: [
    {
      url: "https://example.com/api",
      scheme: "https",
      host: "example.com",
      path: "/api",
    },
    {
      url: "http://www.example.com",
      scheme: "http",
      host: "www.example.com",
      path: "/",
    },
  ],
  volumes: [
    { source: "/home/tester/data", target: "/data", kind: "bind" },
    { source: "/srv/shared", target: "/shared", kind: "bind" },
    { source: "cache-vol", target: "/var/cache", kind: "volume" },
  ],
  env: { PLAIN: "hello world", SECRET: "s3cret", EMPTY: "" },
  port: 8080,
  publish: [
    { hostPort: 5353, containerPort: 53, protocol: "udp" },
    { hostPort: 2222, containerPort: 22, protocol: "tcp" },
  ],
  scale: { strategy: "safe", replicas: 3 },
  healthcheck: { path: "/health", intervalMs: 10_000, timeoutMs: 2_000 },
  liveness: { path: "/live", intervalMs: 30_000, timeoutMs: 500 },
  readiness: { path: "/ready", intervalMs: 60_000, timeoutMs: 60_000 },
  maxcpu: 1.5,
  maxmem: 1.5 * 1024 ** 3,
  request: { cpu: 0.25, mem: 128 * 1024 ** 2 },
  autoscale: { min: 2, max: 6, cpuPct: 70, memPct: 80 },
  sticky: { cookie: "SESSION", maxAgeS: 3600 },
  hash: { by: "header", name: "x-tenant" },
  idleMs: 300_000,
  logs: { maxSize: 20 * 1024 ** 2, maxFiles: 4, line: 27 },
};

export interface Malformed {
  name: string;
  kind?: "service" | "function";
  text: string;
  line: number;
  expect: string;
  flags?: SpecFlags;
}

/** Reads tests/fixtures/spec/malformed.txt (its header says the format). */
function readCorpus(): Malformed[] {
  const url = new URL("./fixtures/spec/malformed.txt", import.meta.url);
  const cases: Malformed[] = [];
  let body: string[] | undefined;
  const close = () => {
    while (body?.length && body[body.length - 1] === "") body.pop();
    if (body) cases[cases.length - 1]!.text = body.join("\n");
  };
  for (const line of Deno.readTextFileSync(url).split("\n")) {
    if (!line.startsWith("=== ")) {
      body?.push(line);
      continue;
    }
    close();
    const [kind, at, expect, name, flags] = line.slice(4).split(" | ");
    if (kind !== "service" && kind !== "function") {
      throw new Error(`malformed.txt: bad kind in ${JSON.stringify(line)}`);
    }
    if (!name || !expect || !/^\d+$/.test(at ?? "")) {
      throw new Error(`malformed.txt: bad header ${JSON.stringify(line)}`);
    }
    cases.push({
      name,
      kind,
      text: "",
      line: Number(at),
      expect,
      ...(flags ? { flags: JSON.parse(flags) as SpecFlags } : {}),
    });
    body = [];
  }
  close();
  return cases;
}

/** The malformed-input corpus. */
export const MALFORMED: Malformed[] = readCorpus();
