import assert from "node:assert/strict";
import { InputError } from "../lib/errors.ts";
import { type Route, RouteTable } from "../lib/proxy/route_table.ts";
import { Balancer, rendezvous } from "../lib/proxy/balancer.ts";

type R = Route<string, string>;

function route(owner: string, url: string): R {
  const u = new URL(url);
  return {
    owner,
    host: u.hostname,
    path: u.pathname.replace(/\/+$/, "") || "/",
    scheme: u.protocol === "https:" ? "https" : "http",
    stripPrefix: false,
    target: { kind: "pool", pool: owner },
  };
}

Deno.test("RouteTable.lookup() picks the host, then the longest path prefix", () => {
  const t = new RouteTable<string, string>()
    .withOwner("web", [route("web", "https://a.test/")])
    .withOwner("api", [route("api", "https://a.test/api")])
    .withOwner("v2", [route("v2", "https://a.test/api/v2")]);
  assert.equal(t.lookup("a.test", "/")?.owner, "web");
  assert.equal(t.lookup("a.test", "/apix")?.owner, "web");
  assert.equal(t.lookup("a.test", "/api")?.owner, "api");
  assert.equal(t.lookup("a.test", "/api/v1/x")?.owner, "api");
  assert.equal(t.lookup("a.test", "/api/v2/x")?.owner, "v2");
  assert.equal(t.lookup("b.test", "/"), undefined);
});

Deno.test("RouteTable.withOwner() refuses a URL another owner claims (409)", () => {
  const t = new RouteTable<string, string>()
    .withOwner("web", [route("web", "https://a.test/api")]);
  const err = assertThrowsInput(() =>
    t.withOwner("other", [route("other", "http://a.test/api")])
  );
  assert.equal(err.status, 409);
  assert.match(err.message, /already served by "web"/);
  // the same owner may re-publish its own URLs
  const again = t.withOwner("web", [route("web", "https://a.test/api")]);
  assert.equal(again.lookup("a.test", "/api")?.owner, "web");
});

Deno.test("RouteTable updates are copy-on-write: the old table is untouched", () => {
  const t1 = new RouteTable<string, string>()
    .withOwner("web", [route("web", "https://a.test/")]);
  const t2 = t1.withoutOwner("web");
  assert.equal(t1.lookup("a.test", "/")?.owner, "web");
  assert.equal(t2.lookup("a.test", "/"), undefined);
  assert.equal(t2.hostCount, 0);
});

Deno.test("rendezvous() moves only the keys of a removed replica", () => {
  const targets = ["a", "b", "c", "d"].map((id) => ({ id, inflight: 0 }));
  const keys = Array.from({ length: 2000 }, (_, i) => `client-${i}`);
  const before = keys.map((k) => rendezvous(k, targets)!.id);
  const fewer = targets.filter((t) => t.id !== "c");
  let moved = 0;
  keys.forEach((k, i) => {
    const now = rendezvous(k, fewer)!.id;
    if (before[i] !== "c") assert.equal(now, before[i], `key ${k} moved`);
    else moved++;
  });
  // about a quarter of the keys lived on "c"
  assert.ok(moved > 350 && moved < 650, `moved ${moved}`);
});

Deno.test("Balancer least-connections prefers the least busy target", () => {
  const b = new Balancer("least-connections");
  const targets = [
    { id: "a", inflight: 3 },
    { id: "b", inflight: 0 },
    { id: "c", inflight: 2 },
  ];
  for (let i = 0; i < 5; i++) assert.equal(b.pick(targets)?.id, "b");
});

function assertThrowsInput(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof InputError, `not an InputError: ${err}`);
    return err;
  }
  throw new Error("did not throw");
}
