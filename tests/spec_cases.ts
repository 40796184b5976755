/**
 * The malformed-input corpus of tests/spec_test.ts and tests/spec_read_test.ts:
 * each case is a file's text, the line its error must name (0 = the file as
 * a whole) and a substring of the message.
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
};

export interface Malformed {
  name: string;
  kind?: "service" | "function";
  text: string;
  line: number;
  expect: string;
  flags?: SpecFlags;
}

/** A Dockerfile: `# mypaas.service=a` on line 1, then `lines` from line 2. */
const svc = (...lines: string[]) => ["# mypaas.service=a", ...lines].join("\n");
/** An entry file: `lines` from line 1. */
const fn = (...lines: string[]) => lines.join("\n");

export const MALFORMED: Malformed[] = [
  {
    name: "a Dockerfile without service",
    text: "FROM x\n# mypaas.port=80",
    line: 0,
    expect: "mypaas.service is required",
  },
  {
    name: "an empty service name",
    text: "# mypaas.service=",
    line: 1,
    expect: "mypaas.service needs a name",
  },
  {
    name: "a service name with nothing usable",
    text: "# mypaas.service=!!!",
    line: 1,
    expect: "nothing of [a-z0-9-]",
  },
  {
    name: "service given twice",
    text: svc("# mypaas.service=b"),
    line: 2,
    expect: "given twice (first on line 1)",
  },
  {
    name: "an unknown key",
    text: svc("FROM x", "# mypaas.colour=red"),
    line: 3,
    expect: "mypaas.colour is not a known key",
  },
  {
    name: "an upper-case key",
    text: svc("# mypaas.URL=https://a.com"),
    line: 2,
    expect: "mypaas.URL is not a known key",
  },
  {
    name: "a key without =",
    text: svc("# mypaas.url https://a.com"),
    line: 2,
    expect: `needs "mypaas.KEY=VALUE"`,
  },
  {
    name: "an empty key",
    text: svc("# mypaas.=x"),
    line: 2,
    expect: "needs a key",
  },
  {
    name: "a url without scheme",
    text: svc("# mypaas.url=example.com"),
    line: 2,
    expect: "does not start with http:// or https://",
  },
  {
    name: "an ftp url",
    text: svc("# mypaas.url=ftp://example.com"),
    line: 2,
    expect: "scheme must be http or https",
  },
  {
    name: "a url with a query",
    text: svc("# mypaas.url=https://a.com/x?y=1"),
    line: 2,
    expect: "query or fragment",
  },
  {
    name: "a url with a fragment",
    text: svc("# mypaas.url=https://a.com/#top"),
    line: 2,
    expect: "query or fragment",
  },
  {
    name: "a url with user info",
    text: svc("# mypaas.url=https://me@a.com"),
    line: 2,
    expect: "user info",
  },
  {
    name: "a url with a port",
    text: svc("# mypaas.url=https://a.com:8443/"),
    line: 2,
    expect: "a port is not allowed",
  },
  {
    name: "a url without host",
    text: svc("# mypaas.url=https:///path"),
    line: 2,
    expect: "the host is missing",
  },
  {
    name: "a url with a bad host",
    text: svc("# mypaas.url=https://a_b.com"),
    line: 2,
    expect: "not [a-z0-9-]",
  },
  {
    name: "a url with a wildcard host",
    text: svc("# mypaas.url=https://*.a.com"),
    line: 2,
    expect: "not [a-z0-9-]",
  },
  {
    name: "a url with a bad IPv4",
    text: svc("# mypaas.url=http://300.1.1.1"),
    line: 2,
    expect: "neither a name nor an IPv4",
  },
  {
    name: "a url with .. in the path",
    text: svc("# mypaas.url=https://a.com/x/../y"),
    line: 2,
    expect: `".." segments`,
  },
  {
    name: "a url with blanks",
    text: svc("# mypaas.url=https://a.com/a b"),
    line: 2,
    expect: "blanks are not allowed",
  },
  {
    name: "the same url twice",
    text: svc("# mypaas.url=https://a.com/x", "# mypaas.url=https://A.com/x/"),
    line: 3,
    expect: "repeats https://a.com/x (already given on line 2)",
  },
  {
    name: "a volume without container path",
    text: svc("# mypaas.volume=/data"),
    line: 2,
    expect: `"HOST:CONTAINER"`,
  },
  {
    name: "a volume with a relative host path",
    text: svc("# mypaas.volume=./data:/data"),
    line: 2,
    expect: `must start with "/" or "~/"`,
  },
  {
    name: "a volume with a relative container path",
    text: svc("# mypaas.volume=~/d:data"),
    line: 2,
    expect: "container path must be absolute",
  },
  {
    name: "a volume with three parts",
    text: svc("# mypaas.volume=/a:/b:/c"),
    line: 2,
    expect: `"HOST:CONTAINER"`,
  },
  {
    name: "a volume of ~user",
    text: svc("# mypaas.volume=~bob:/d"),
    line: 2,
    expect: `must start with "/" or "~/"`,
  },
  {
    name: "two volumes on one target",
    text: svc("# mypaas.volume=/a:/d", "# mypaas.volume=v:/d/"),
    line: 3,
    expect: "mounts /d again (first on line 2)",
  },
  {
    name: "an env without name",
    text: svc("# mypaas.env==x"),
    line: 2,
    expect: `"NAME=VALUE" or a bare "NAME"`,
  },
  {
    name: "an env name with a dash",
    text: svc("# mypaas.env=MY-VAR=1"),
    line: 2,
    expect: `"NAME=VALUE"`,
  },
  {
    name: "a bare env missing from [env]",
    text: svc("", "# mypaas.env=NOPE"),
    line: 3,
    expect: `no NOPE in [env]: add NOPE = "..." to [env] in config.toml`,
  },
  {
    name: "an env set twice",
    text: svc("# mypaas.env=A=1", "# mypaas.env=A=2"),
    line: 3,
    expect: "sets A again (first on line 2)",
  },
  {
    name: "port 0",
    text: svc("# mypaas.port=0"),
    line: 2,
    expect: "needs a port from 1 to 65535",
  },
  {
    name: "port 70000",
    text: svc("# mypaas.port=70000"),
    line: 2,
    expect: `got "70000"`,
  },
  {
    name: "a named port",
    text: svc("# mypaas.port=http"),
    line: 2,
    expect: `got "http"`,
  },
  {
    name: "port twice",
    text: svc("# mypaas.port=80", "# mypaas.port = 81"),
    line: 3,
    expect: "mypaas.port is given twice",
  },
  {
    name: "publish without host port",
    text: svc("# mypaas.publish=53"),
    line: 2,
    expect: `"HOST:CONTAINER" ports`,
  },
  {
    name: "publish with sctp",
    text: svc("# mypaas.publish=53:53/sctp"),
    line: 2,
    expect: `got "53:53/sctp"`,
  },
  {
    name: "publish with port 0",
    text: svc("# mypaas.publish=0:53"),
    line: 2,
    expect: "ports run from 1 to 65535",
  },
  {
    name: "the same host port twice",
    text: svc("# mypaas.publish=53:53/udp", "# mypaas.publish=53:54/udp"),
    line: 3,
    expect: "publishes host port 53/udp again",
  },
  {
    name: "scale safe 0",
    text: svc("# mypaas.scale=safe 0"),
    line: 2,
    expect: "N runs from 1 to 1000",
  },
  {
    name: "scale -1",
    text: svc("# mypaas.scale=-1"),
    line: 2,
    expect: `needs "0", "N", "roll N" or "safe N"`,
  },
  {
    name: "scale fast 2",
    text: svc("# mypaas.scale=fast 2"),
    line: 2,
    expect: `got "fast 2"`,
  },
  {
    name: "scale 5000",
    text: svc("# mypaas.scale=5000"),
    line: 2,
    expect: "N runs from 1 to 1000",
  },
  {
    name: "a healthcheck without timeout",
    text: svc("# mypaas.healthcheck=/up 5s"),
    line: 2,
    expect: `mypaas.healthcheck needs "/path interval timeout": got "/up 5s"`,
  },
  {
    name: "a healthcheck without slash",
    text: svc("# mypaas.healthcheck=up 5s 1s"),
    line: 2,
    expect: `path must start with "/"`,
  },
  {
    name: "a healthcheck with bare numbers",
    text: svc("# mypaas.healthcheck=/up 5 1"),
    line: 2,
    expect: "durations are like",
  },
  {
    name: "a healthcheck timeout above interval",
    text: svc("# mypaas.healthcheck=/up 1s 2s"),
    line: 2,
    expect: "timeout must not exceed the interval",
  },
  {
    name: "a zero healthcheck interval",
    text: svc("# mypaas.healthcheck=/up 0s 0s"),
    line: 2,
    expect: "above zero",
  },
  {
    name: "a liveness with four parts",
    text: svc("# mypaas.liveness=/l 1s 1s 1s"),
    line: 2,
    expect: "mypaas.liveness needs",
  },
  {
    name: "a readiness in days",
    text: svc("# mypaas.readiness=/r 1d 1s"),
    line: 2,
    expect: "mypaas.readiness needs",
  },
  {
    name: "maxcpu 0",
    text: svc("# mypaas.maxcpu=0"),
    line: 2,
    expect: "mypaas.maxcpu needs a number of cores",
  },
  {
    name: "maxcpu -1",
    text: svc("# mypaas.maxcpu=-1"),
    line: 2,
    expect: `got "-1"`,
  },
  {
    name: "maxmem in furlongs",
    text: svc("# mypaas.maxmem=1.5 furlongs"),
    line: 2,
    expect: "mypaas.maxmem needs a size",
  },
  {
    name: "maxmem below 6m",
    text: svc("# mypaas.maxmem=1m"),
    line: 2,
    expect: "Docker needs at least 6m",
  },
  {
    name: "autoscale with min above max",
    text: svc("# mypaas.autoscale=5..2"),
    line: 2,
    expect: "1 <= min <= max",
  },
  {
    name: "autoscale from 0",
    text: svc("# mypaas.autoscale=0..2"),
    line: 2,
    expect: "1 <= min <= max",
  },
  {
    name: "autoscale with a bad metric",
    text: svc("# mypaas.autoscale=1..2 gpu=50%"),
    line: 2,
    expect: `"gpu=50%" is not one of cpu=, mem=`,
  },
  {
    name: "autoscale at 150%",
    text: svc("# mypaas.autoscale=1..2 cpu=150%"),
    line: 2,
    expect: "percentage from 1% to 100%",
  },
  {
    name: "autoscale with cpu twice",
    text: svc("# mypaas.autoscale=1..2 cpu=5% cpu=6%"),
    line: 2,
    expect: "cpu= is given twice",
  },
  {
    name: "autoscale with a dash range",
    text: svc("# mypaas.autoscale=1-3"),
    line: 2,
    expect: `"min..max [cpu=80%] [mem=80%]"`,
  },
  {
    name: "sticky by header",
    text: svc("# mypaas.sticky=header"),
    line: 2,
    expect: `"cookie [max-age]"`,
  },
  {
    name: "sticky with a bad max-age",
    text: svc("# mypaas.sticky=cookie soon"),
    line: 2,
    expect: "max-age is a duration",
  },
  {
    name: "sticky with a bad cookie name",
    text: svc("# mypaas.sticky=cookie:a;b"),
    line: 2,
    expect: "not a valid cookie name",
  },
  {
    name: "hash by url",
    text: svc("# mypaas.hash=url"),
    line: 2,
    expect: `"header:NAME", "cookie:NAME" or "ip"`,
  },
  {
    name: "hash by an empty header",
    text: svc("# mypaas.hash=header:"),
    line: 2,
    expect: `got "header:"`,
  },
  {
    name: "request with gpu",
    text: svc("# mypaas.request=gpu=1"),
    line: 2,
    expect: "is not one of cpu=, mem=",
  },
  {
    name: "an empty request",
    text: svc("# mypaas.request="),
    line: 2,
    expect: "mypaas.request needs",
  },
  {
    name: "request cpu above maxcpu",
    text: svc("# mypaas.maxcpu=0.5", "# mypaas.request=cpu=1"),
    line: 3,
    expect: "more than mypaas.maxcpu",
  },
  {
    name: "request mem above maxmem",
    text: svc("# mypaas.request=mem=1g", "# mypaas.maxmem=512m"),
    line: 2,
    expect: "more than mypaas.maxmem",
  },
  {
    name: "idle forever",
    text: svc("# mypaas.idle=forever"),
    line: 2,
    expect: `mypaas.idle needs a duration such as "5m"`,
  },
  {
    name: "idle 0s",
    text: svc("# mypaas.idle=0s"),
    line: 2,
    expect: `got "0s"`,
  },
  {
    name: "a domain in a Dockerfile",
    text: svc("# mypaas.domain=a.com"),
    line: 2,
    expect: "does not apply to a service",
  },
  {
    name: "an entrypoint in a Dockerfile",
    text: svc("# mypaas.entrypoint=main.ts"),
    line: 2,
    expect: "does not apply to a service",
  },
  {
    kind: "function",
    name: "publish in an entry file",
    text: fn("// mypaas.publish=53:53"),
    line: 1,
    expect: "mypaas.publish does not apply to a function",
  },
  {
    kind: "function",
    name: "volume in an entry file",
    text: fn("", "// mypaas.volume=/a:/b"),
    line: 2,
    expect: "does not apply to a function",
  },
  {
    kind: "function",
    name: "an unknown key in an entry file",
    text: fn("//mypaas.route=/x"),
    line: 1,
    expect: "mypaas.route is not a known key",
  },
  {
    kind: "function",
    name: "a domain with a scheme",
    text: fn("// mypaas.domain=https://a.com"),
    line: 1,
    expect: "only the host",
  },
  {
    kind: "function",
    name: "a domain equal to a url",
    text: fn("// mypaas.url=https://a.com", "// mypaas.domain=a.com"),
    line: 2,
    expect: "repeats https://a.com",
  },
  {
    kind: "function",
    name: "an entrypoint outside the directory",
    text: fn("// mypaas.entrypoint=../x.ts"),
    line: 1,
    expect: "must stay inside the directory",
  },
  {
    kind: "function",
    name: "an entrypoint that is not code",
    text: fn("// mypaas.entrypoint=README.md"),
    line: 1,
    expect: "relative .ts/.js file",
  },
  {
    kind: "function",
    name: "a function env missing from [env]",
    text: fn("// mypaas.env=NOPE"),
    line: 1,
    expect: "no NOPE in [env]",
  },
  {
    kind: "function",
    name: "a bad --domain flag",
    text: fn("export default {}"),
    line: 0,
    expect: "--domain: needs a host name",
    flags: { domains: ["a b"] },
  },
  {
    kind: "function",
    name: "a --env flag missing from [env]",
    text: fn("export default {}"),
    line: 0,
    expect: '--env: takes "NOPE" from config.toml',
    flags: { env: ["NOPE"] },
  },
  {
    kind: "function",
    name: "a --domain twice",
    text: fn(""),
    line: 0,
    expect: "repeats https://a.com",
    flags: { domains: ["a.com", "A.com"] },
  },
];
