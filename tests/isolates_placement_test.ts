/**
 * place() as a pure decision: snapshots of a pool in, a placement out; no
 * process is spawned.
 */
import { assertEquals } from "./isolates_assert.ts";
import {
  type Candidate,
  EVICT_EVERY_MS,
  place,
  type PlacementView,
} from "../lib/isolates/placement.ts";

const NOW = 1_000_000;

/** An active isolate of `deployment`, idle since `idleSince` ms before NOW. */
function active(
  id: string,
  deployment: string,
  over: Partial<Candidate> = {},
): Candidate {
  return {
    id,
    state: "active",
    deployment,
    instanceId: null,
    inflight: 0,
    retired: false,
    lastActivity: NOW - 5000,
    ...over,
  };
}

function standby(id: string): Candidate {
  return { ...active(id, ""), state: "standby", deployment: null };
}

function view(
  isolates: Candidate[],
  over: Partial<PlacementView> = {},
): PlacementView {
  return {
    key: "new@1",
    instanceId: null,
    isolates,
    booting: 0,
    aloneBooting: 0,
    alone: false,
    aloneBootingThis: false,
    concurrency: 32,
    maxWorkers: 10,
    softCap: 5,
    hot: false,
    bootsPaused: false,
    now: NOW,
    evictedAt: () => undefined,
    ...over,
  };
}

/** max_workers (10) isolates, all assigned; `busy` of them in flight. */
function full(busy: number): Candidate[] {
  return Array.from({ length: 10 }, (_, i) =>
    active(`i${i}`, `f${i}@1`, {
      inflight: i < busy ? 1 : 0,
      lastActivity: NOW - 1000 * (10 - i),
    }));
}

Deno.test("place() sends a request to its deployment's least busy isolate under concurrency", () => {
  const isolates = [
    active("a", "new@1", { inflight: 3 }),
    active("b", "new@1", { inflight: 1 }),
    standby("s"),
  ];
  assertEquals(place(view(isolates)), { kind: "take", id: "b" });
});

Deno.test("place() loads a standby (a cold start) while under the soft cap", () => {
  const isolates = [active("a", "f@1"), standby("s")];
  assertEquals(place(view(isolates)), { kind: "assign", id: "s" });
});

Deno.test("place() evicts the least recently used idle isolate before taking a standby at the soft cap", () => {
  const isolates = [
    ...[0, 1, 2, 3, 4].map((i) =>
      active(`i${i}`, `f${i}@1`, { lastActivity: NOW - 100 * (i + 1) })
    ),
    standby("s"),
  ];
  assertEquals(place(view(isolates)), {
    kind: "assign",
    id: "s",
    evict: { id: "i4", why: "no-standby" },
  });
});

Deno.test("place() takes a standby over the soft cap when every assigned isolate is busy", () => {
  const isolates = [
    ...[0, 1, 2, 3, 4].map((i) => active(`i${i}`, `f${i}@1`, { inflight: 1 })),
    standby("s"),
  ];
  assertEquals(place(view(isolates)), { kind: "assign", id: "s" });
});

Deno.test("place() at max_workers evicts the LRU idle isolate and waits for its replacement", () => {
  assertEquals(place(view(full(3))), {
    kind: "wait",
    boot: true,
    evict: { id: "i3", why: "max-workers" },
  });
});

Deno.test("place() over the host's CPU/memory target evicts instead of booting", () => {
  const isolates = [active("a", "f@1"), active("b", "g@1", { inflight: 2 })];
  assertEquals(place(view(isolates, { hot: true })), {
    kind: "wait",
    boot: true,
    evict: { id: "a", why: "host-load" },
  });
});

Deno.test("place() waits for a boot when one may start (no eviction)", () => {
  assertEquals(place(view([active("a", "f@1")], { softCap: 5 })), {
    kind: "wait",
    boot: true,
  });
});

Deno.test("place() queues only when every isolate has requests in flight", () => {
  assertEquals(place(view(full(10))), { kind: "wait", boot: false });
});

Deno.test("place() never evicts an isolate loading its code", () => {
  const isolates = full(9);
  isolates[9] = { ...isolates[9]!, state: "loading" };
  assertEquals(place(view(isolates)), { kind: "wait", boot: false });
});

Deno.test("place() evicts a deployment at most once a second; the wait ends when it may again", () => {
  const isolates = full(9);
  const last = NOW - 400;
  const v = view(isolates, {
    evictedAt: (d) => d === "f9@1" ? last : undefined,
  });
  assertEquals(place(v), {
    kind: "wait",
    boot: false,
    until: last + EVICT_EVERY_MS,
  });
  assertEquals(place({ ...v, now: last + EVICT_EVERY_MS }), {
    kind: "wait",
    boot: true,
    evict: { id: "i9", why: "max-workers" },
  });
});

Deno.test("place() evicts dedicated isolates (instance ids) last", () => {
  const isolates = full(8);
  // i8 is the least recently used idle one, but dedicated
  isolates[8] = { ...isolates[8]!, instanceId: "room-1", lastActivity: 0 };
  assertEquals(place(view(isolates)), {
    kind: "wait",
    boot: true,
    evict: { id: "i9", why: "max-workers" },
  });
  isolates[9] = { ...isolates[9]!, inflight: 1 };
  assertEquals(place(view(isolates)), {
    kind: "wait",
    boot: true,
    evict: { id: "i8", why: "max-workers" },
  });
});

Deno.test("place() gives a busy deployment one more request rather than evicting a neighbour", () => {
  const isolates = full(0);
  isolates[0] = active("mine", "new@1", { inflight: 32 });
  assertEquals(place(view(isolates)), { kind: "take", id: "mine" });
});

Deno.test("place() waits, without evicting, while failed boots back off", () => {
  assertEquals(place(view(full(0), { bootsPaused: true })), {
    kind: "wait",
    boot: false,
  });
});

Deno.test("place() boots a quarantined release alone, evicting at the soft cap", () => {
  assertEquals(place(view([standby("s")], { alone: true })), {
    kind: "boot-alone",
  });
  assertEquals(place(view(full(3), { alone: true })), {
    kind: "boot-alone",
    evict: { id: "i3", why: "max-workers" },
  });
  assertEquals(
    place(view([standby("s")], { alone: true, aloneBootingThis: true })),
    { kind: "wait", boot: false },
  );
});
