/**
 * @module
 * Merges the log streams of several containers into one stream of
 * `name | line` strings, in arrival order.
 */
import type { ContainerRuntime } from "../docker/mod.ts";

/** Interleaves the containers' logs; ends when all streams end. */
export async function* mergeLogs(
  runtime: ContainerRuntime,
  containers: { id: string; name: string }[],
  opts: { follow: boolean; tail?: number; signal?: AbortSignal },
): AsyncIterable<string> {
  const queue: string[] = [];
  let wake: (() => void) | undefined;
  let open = containers.length;
  let failure: unknown;
  for (const c of containers) {
    (async () => {
      try {
        for await (
          const l of runtime.logs(c.id, {
            follow: opts.follow,
            ...(opts.tail !== undefined ? { tail: opts.tail } : {}),
            ...(opts.signal ? { signal: opts.signal } : {}),
          })
        ) {
          queue.push(`${c.name} | ${l.line}`);
          wake?.();
        }
      } catch (err) {
        failure ??= err;
      } finally {
        open--;
        wake?.();
      }
    })();
  }
  while (true) {
    while (queue.length) yield queue.shift()!;
    if (open === 0 || opts.signal?.aborted) break;
    await new Promise<void>((r) => wake = r);
    wake = undefined;
  }
  if (failure && !opts.signal?.aborted) throw failure;
}
