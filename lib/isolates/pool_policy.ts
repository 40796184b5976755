/**
 * @module
 * The pool's sizing rules, pure: how many isolates may be assigned and how
 * many free (standby) ones to keep so that free >= (free + assigned) x ratio
 * holds while total <= max, with at least `minWorkers` booted.
 */

/** The settings the rules read. */
export interface Sizing {
  minWorkers: number;
  maxWorkers: number;
  freePoolRatio: number;
}

/** Most isolates that may be assigned with the free ratio still met. */
export function maxAssigned(s: Sizing): number {
  return Math.max(1, Math.floor(s.maxWorkers * (1 - s.freePoolRatio)));
}

/** Free isolates wanted when `assigned` are assigned. */
export function wantedFree(s: Sizing, assigned: number): number {
  const r = Math.min(Math.max(s.freePoolRatio, 0), 0.99);
  return Math.max(
    0,
    Math.min(
      s.maxWorkers - assigned,
      Math.max(s.minWorkers - assigned, Math.ceil(assigned * r / (1 - r))),
    ),
  );
}
