/**
 * @module
 * Where a request (or a deploy's load check) goes, decided as a pure
 * function of a snapshot of the pool: its deployment's own isolate, a
 * standby, an isolate booted for it, or a wait; and which idle isolate of
 * another deployment to evict to make room. Nothing here spawns, stops or
 * waits: `IsolatePool` carries the decision out (lib/isolates/pool.ts), so
 * these rules have unit tests that run in microseconds.
 *
 * Rules (README "How the pool places a request"):
 * - an isolate of the deployment with fewer than `concurrency` requests in
 *   flight (a dedicated one for its instance id whatever its load) serves;
 * - else a standby is loaded (a cold start), first evicting the least
 *   recently used idle isolate when `softCap` isolates are assigned, so the
 *   free ratio keeps standbys for the next cold start;
 * - else a busy isolate of the deployment takes one more request;
 * - else, when an isolate can still be booted (under `max_workers` and the
 *   host's CPU/memory targets, boots not backing off), the request waits for
 *   the boot under way;
 * - else the least recently used idle isolate is evicted and the request
 *   waits for its replacement;
 * - else every isolate has requests in flight (or was evicted within the
 *   last second): the request waits in the bounded queue.
 * A victim never has a request in flight or is loading; a deployment loses
 * at most one isolate to eviction per `EVICT_EVERY_MS`; dedicated isolates
 * (instance ids) go last.
 */
import type { IsolateState } from "./pool_isolate.ts";

/** A deployment loses at most one isolate to eviction this often. */
export const EVICT_EVERY_MS = 1000;

/** Why an isolate was evicted (the log and `server list` say so). */
export type EvictReason =
  /** a standby was taken with `softCap` isolates assigned (free ratio) */
  | "no-standby"
  /** `max_workers` isolates exist */
  | "max-workers"
  /** the host is over its CPU or memory target: no isolate may start */
  | "host-load";

/** The words the log uses for an eviction's reason. */
export const EVICT_WHY: Record<EvictReason, string> = {
  "no-standby": "no standby left (free_pool_ratio)",
  "max-workers": "max_workers reached",
  "host-load": "host over its CPU/memory target",
};

/** What placement reads of one isolate. */
export interface Candidate {
  id: string;
  state: IsolateState;
  deployment: string | null;
  instanceId: string | null;
  inflight: number;
  retired: boolean;
  /** Clock ms of its last request or activity. */
  lastActivity: number;
}

/** A snapshot of the pool, as placement sees it. */
export interface PlacementView {
  /** The deployment key and instance id the request is for. */
  key: string;
  instanceId: string | null;
  /** The isolates not stopping (booting, standby, loading, active). */
  isolates: readonly Candidate[];
  /** Standby boots under way that are not in `isolates` yet (those that
   * are have the state "booting"). */
  booting: number;
  /** Isolates of quarantined releases booting alone (count as assigned). */
  aloneBooting: number;
  /** The release runs each isolate in a process of its own. */
  alone: boolean;
  /** An isolate of this release is booting alone right now. */
  aloneBootingThis: boolean;
  /** Requests per isolate before a deployment gets another. */
  concurrency: number;
  maxWorkers: number;
  /** Assigned isolates above which a cold start evicts before it loads. */
  softCap: number;
  /** The host is over its CPU or memory target. */
  hot: boolean;
  /** Failed boots hold new ones back. */
  bootsPaused: boolean;
  now: number;
  /** When an isolate of `deployment` was last evicted (clock ms). */
  evictedAt(deployment: string): number | undefined;
}

/** An isolate to evict first, and why. */
export interface Eviction {
  id: string;
  why: EvictReason;
}

/** What to do with one request. */
export type Placement =
  /** send it to this isolate of its deployment */
  | { kind: "take"; id: string }
  /** load the deployment into this standby (after evicting `evict`) */
  | { kind: "assign"; id: string; evict?: Eviction }
  /** boot an isolate in a process of its own (quarantined release) */
  | { kind: "boot-alone"; evict?: Eviction }
  /**
   * wait for a change: a standby booting (`boot`: one more is wanted), the
   * replacement of `evict`, or a request finishing; `until` is when an
   * idle isolate becomes evictable again (its deployment's last eviction
   * is a second old)
   */
  | { kind: "wait"; boot: boolean; evict?: Eviction; until?: number };

/** Decides where the request of `v.key` goes. */
export function place(v: PlacementView): Placement {
  const own = leastBusy(v);
  if (own && (v.instanceId !== null || own.inflight < v.concurrency)) {
    return { kind: "take", id: own.id };
  }
  const live = v.isolates.filter((i) => i.state !== "stopping");
  const assigned = live.filter((i) => i.deployment !== null).length +
    v.aloneBooting;
  const total = live.length + v.booting + v.aloneBooting;
  const booting = v.booting + live.filter((i) => i.state === "booting").length;
  const victim = lruVictim(v);
  const atCap = assigned >= v.softCap;
  if (v.alone) {
    if (own) return { kind: "take", id: own.id };
    if (v.aloneBootingThis || v.hot || v.bootsPaused) {
      return queue();
    }
    if (!atCap && total < v.maxWorkers) return { kind: "boot-alone" };
    if (victim.id) {
      const why = total >= v.maxWorkers ? "max-workers" : "no-standby";
      return { kind: "boot-alone", evict: { id: victim.id, why } };
    }
    return queue(victim.until);
  }
  const standby = live.find((i) => i.state === "standby");
  if (standby) {
    if (atCap && victim.id) {
      return {
        kind: "assign",
        id: standby.id,
        evict: { id: victim.id, why: "no-standby" },
      };
    }
    return { kind: "assign", id: standby.id };
  }
  if (own) return { kind: "take", id: own.id };
  if (v.bootsPaused) return queue();
  const canBoot = !v.hot && total < v.maxWorkers;
  // a standby still booting will be free for this request
  if (canBoot || booting > 0) return { kind: "wait", boot: true };
  if (victim.id) {
    const why = v.hot ? "host-load" : "max-workers";
    return { kind: "wait", boot: true, evict: { id: victim.id, why } };
  }
  return queue(victim.until);
}

/** A wait for a request to finish (or, at `until`, a victim to be free). */
function queue(until?: number): Placement {
  return until === undefined
    ? { kind: "wait", boot: false }
    : { kind: "wait", boot: false, until };
}

/** The deployment's usable isolate with the fewest requests in flight. */
function leastBusy(v: PlacementView): Candidate | undefined {
  let best: Candidate | undefined;
  for (const i of v.isolates) {
    if (
      i.deployment === v.key && i.instanceId === v.instanceId &&
      i.state !== "stopping" && i.state !== "booting" &&
      i.state !== "standby" && !i.retired &&
      (best === undefined || i.inflight < best.inflight)
    ) best = i;
  }
  return best;
}

/**
 * The isolate to evict: active, nothing in flight, of another deployment
 * that lost none in the last `EVICT_EVERY_MS`; shared before dedicated,
 * then least recently used. `until`: when the first one held back by that
 * rule becomes evictable, if none is now.
 */
export function lruVictim(v: PlacementView): { id?: string; until?: number } {
  let best: Candidate | undefined;
  let soonest: number | undefined;
  for (const i of v.isolates) {
    if (
      i.state !== "active" || i.inflight > 0 || i.retired ||
      i.deployment === null || i.deployment === v.key
    ) continue;
    const last = v.evictedAt(i.deployment);
    if (last !== undefined && v.now - last < EVICT_EVERY_MS) {
      const at = last + EVICT_EVERY_MS;
      if (soonest === undefined || at < soonest) soonest = at;
      continue;
    }
    if (best === undefined || before(i, best)) best = i;
  }
  if (best) return { id: best.id };
  return soonest === undefined ? {} : { until: soonest };
}

/** Shared isolates go before dedicated ones, then the older activity. */
function before(a: Candidate, b: Candidate): boolean {
  const da = a.instanceId !== null, db = b.instanceId !== null;
  if (da !== db) return db;
  return a.lastActivity < b.lastActivity;
}
