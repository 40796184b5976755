/** Assertions for the push/keys/api/archive tests (no JSR @std/assert here). */
import { deepStrictEqual } from "node:assert";

export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

export function assertEquals(
  actual: unknown,
  expected: unknown,
  msg?: string,
): void {
  deepStrictEqual(actual, expected, msg);
}

export function assertStringIncludes(s: string, part: string): void {
  if (!s.includes(part)) {
    throw new Error(
      `expected ${JSON.stringify(s)} to include ${JSON.stringify(part)}`,
    );
  }
}

export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  cls?: new (...a: never[]) => E,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (err) {
    if (cls && !(err instanceof cls)) {
      throw new Error(`expected ${cls.name}, got ${err}`);
    }
    if (includes && !(err as Error).message.includes(includes)) {
      throw new Error(
        `expected message to include ${JSON.stringify(includes)}: ${
          (err as Error).message
        }`,
      );
    }
    return err as E;
  }
  throw new Error("expected a rejection");
}
