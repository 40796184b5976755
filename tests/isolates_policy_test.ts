import { assert, assertEquals } from "./isolates_assert.ts";
import { maxAssigned, wantedFree } from "../lib/isolates/pool_policy.ts";
import { denyNetList } from "../lib/isolates/net_policy.ts";
import { isDeniedIpv6 } from "../lib/isolates/runtime/net_guard.ts";

const seed = { minWorkers: 4, maxWorkers: 10, freePoolRatio: 0.5 };

Deno.test("wantedFree() keeps min_workers booted and free >= ratio within max", () => {
  assertEquals(wantedFree(seed, 0), 4);
  assertEquals(wantedFree(seed, 2), 2);
  assertEquals(wantedFree(seed, 3), 3);
  assertEquals(maxAssigned(seed), 5);
  for (let a = 0; a <= maxAssigned(seed); a++) {
    const free = wantedFree(seed, a);
    assert(free + a <= 10, `total ${free + a} > max`);
    assert(free >= (free + a) * 0.5, `ratio broken at ${a}`);
  }
  assertEquals(wantedFree({ ...seed, freePoolRatio: 0.25 }, 6), 2);
});

Deno.test("denyNetList() denies private ranges and splits CIDRs for allow_net", () => {
  const base = denyNetList();
  for (
    const net of ["127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "[::1]"]
  ) {
    assert(base.includes(net), `${net} missing`);
  }
  const opened = denyNetList(["10.1.0.0/16"]);
  assert(!opened.includes("10.0.0.0/8"));
  assert(opened.includes("10.0.0.0/16"));
  assert(opened.includes("10.128.0.0/9"));
  assert(!opened.some((n) => n.startsWith("10.1.")), opened.join(","));
  assertEquals(denyNetList(["[::1]"]).includes("[::1]"), false);
});

Deno.test("isDeniedIpv6() matches fc00::/7 and fe80::/10 literals only", () => {
  for (
    const h of ["[fd00::1]", "fc00::", "FE80::1", "[febf::2]", "fd12:3456::1"]
  ) {
    assert(isDeniedIpv6(h), h);
  }
  for (
    const h of ["2001:db8::1", "[fec0::1]", "127.0.0.1", "example.com", "::1"]
  ) {
    assert(!isDeniedIpv6(h), h);
  }
});
