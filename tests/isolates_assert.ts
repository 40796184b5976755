/** Tiny assertions for the isolate tests (JSR's @std/assert is unreachable). */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

export function assertEquals(actual: unknown, expected: unknown): void {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new Error(`expected ${e}, got ${a}`);
}

export function assertNotEquals(actual: unknown, other: unknown): void {
  if (JSON.stringify(actual) === JSON.stringify(other)) {
    throw new Error(`expected something other than ${JSON.stringify(other)}`);
  }
}
