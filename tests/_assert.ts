/**
 * The assertions the tests share (JSR @std/assert is not reachable here):
 * thin wrappers over node:assert with messages that say what differed.
 */
import { deepStrictEqual } from "node:assert/strict";

/** Throws unless `cond`. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

/** Deep, strict equality. */
export function assertEquals<T>(
  actual: unknown,
  expected: T,
  msg?: string,
): void {
  deepStrictEqual(actual, expected, msg);
}

/** Throws unless `s` contains `part`. */
export function assertStringIncludes(s: string, part: string): void {
  if (!s.includes(part)) {
    throw new Error(
      `expected ${JSON.stringify(s)} to include ${JSON.stringify(part)}`,
    );
  }
}

/**
 * Resolves to the error `fn` rejects with; fails if it resolves, if the
 * error is not a `cls`, or if its message lacks `includes`.
 */
export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  cls?: new (...args: any[]) => E,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (err) {
    if (cls && !(err instanceof cls)) {
      throw new Error(`expected ${cls.name}, got ${String(err)}`);
    }
    if (includes && !(err as Error).message.includes(includes)) {
      throw new Error(
        `expected an error with ${JSON.stringify(includes)}, got ${
          JSON.stringify((err as Error).message)
        }`,
      );
    }
    return err as E;
  }
  throw new Error("expected a rejection, but it resolved");
}
