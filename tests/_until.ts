/**
 * The one polling helper of the suite: waits for an observable condition and
 * fails the test (throws, naming what it waited for and the last error) when
 * it does not hold in time. It resolves to `true`, so `assert(await
 * until(...))` reads as before.
 */

/** How long and how often `until` polls. */
export interface UntilOptions {
  /** What is awaited, for the error message. */
  what?: string;
  /** Default 5 s. */
  timeoutMs?: number;
  /** Default 10 ms. */
  intervalMs?: number;
  /** Added to the error message (e.g. a daemon's output). */
  detail?: () => string;
}

/** Polls `cond` until it is true; throws after the timeout. */
export async function until(
  cond: () => boolean | Promise<boolean>,
  opts: UntilOptions | number = {},
): Promise<true> {
  const o = typeof opts === "number" ? { timeoutMs: opts } : opts;
  const { timeoutMs = 5000, intervalMs = 10 } = o;
  const end = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    try {
      if (await cond()) return true;
      last = "";
    } catch (err) {
      last = `: ${err instanceof Error ? err.message : err}`;
    }
    if (Date.now() > end) {
      const detail = o.detail ? `\n${o.detail()}` : "";
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${
          o.what ?? "a condition"
        }${last}${detail}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
