/**
 * @module
 * The request side of the isolate pool: one request to one isolate of a
 * deployment, with the wall-time limit (504), a second try when the request
 * never left (the isolate was already gone), and the verdict on an isolate
 * whose connection broke (its exit or its process's crash, 500/502).
 */
import { Deadlines } from "../deadlines.ts";
import type { Logger } from "../log.ts";
import type { PoolIsolate, StopCause } from "./pool_isolate.ts";
import { PoolBusyError, type Target } from "./pool_types.ts";
import { trackBody } from "./track_body.ts";
import { type ClientInfo, isolateHeaders, NotSentError } from "./unix_http.ts";

/** What the request side needs of the pool. */
export interface PoolCore {
  /** An isolate for `target`, its in-flight count already taken. */
  acquire(target: Target, instanceId: string | null): Promise<PoolIsolate>;
  /** A request on `iso` finished (its body too). */
  released(iso: PoolIsolate): void;
  /** `iso` broke while serving (`cause`: why it stopped, if it did). */
  broke(iso: PoolIsolate, cause: StopCause): void;
  wallLimitMs: number;
  log: Logger;
}

// deno-lint-ignore no-control-regex
const BAD_TARGET = /[\x00-\x20\x7f]/;

/** A request that never reached its isolate. */
const NOT_SENT = Symbol("not sent");

/**
 * A broken connection is often its isolate's exit or its process's crash,
 * reported a moment later: wait for that (at most 200 ms), so the reason is
 * right and the next request does not pick a neighbour in a dead process.
 */
async function settle(iso: PoolIsolate): Promise<void> {
  if (iso.gone.signal.aborted) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const gone = Promise.withResolvers<void>();
  const onGone = () => gone.resolve();
  iso.gone.signal.addEventListener("abort", onGone, { once: true });
  await Promise.race([
    iso.proc.exited,
    gone.promise,
    new Promise((r) => timer = setTimeout(r, 200)),
  ]);
  clearTimeout(timer);
  iso.gone.signal.removeEventListener("abort", onGone);
}

/** Sends requests to the pool's isolates. */
export class PoolRequests {
  /** Wall-time limits of requests in flight (one timer for all). */
  readonly #deadlines = new Deadlines();

  constructor(readonly core: PoolCore) {}

  /**
   * Serves one request with an isolate of `target`. `client` says who sent
   * it (the isolate sees it as X-Forwarded-For and `info.remoteAddr`).
   */
  async dispatch(
    target: Target,
    req: Request,
    client: ClientInfo & { instanceId?: string | null },
  ): Promise<Response> {
    // The URL goes into the request line: no blank or control character
    // (Deno's req.url keeps a raw Host header's).
    if (BAD_TARGET.test(req.url)) {
      return new Response("bad host or request target\n", { status: 400 });
    }
    const headers = isolateHeaders(req, client);
    const instanceId = client.instanceId ?? null;
    for (let attempt = 0;; attempt++) {
      let iso: PoolIsolate;
      try {
        iso = await this.core.acquire(target, instanceId);
      } catch (err) {
        if (!(err instanceof PoolBusyError)) throw err;
        return new Response("no isolate available, try again\n", {
          status: 503,
          headers: { "retry-after": "1" },
        });
      }
      const res = await this.#send(iso, target, req, headers, attempt === 0);
      if (res !== NOT_SENT) return res;
    }
  }

  /** Drops pending wall-time limits (the pool stopped). */
  clear(): void {
    this.#deadlines.clear();
  }

  /**
   * One try on one isolate. NOT_SENT (when `mayRetry`) means the request
   * never reached it (the isolate was already gone): it never ran, so it
   * may go to another isolate.
   */
  async #send(
    iso: PoolIsolate,
    target: Target,
    req: Request,
    headers: [string, string][],
    mayRetry: boolean,
  ): Promise<Response | typeof NOT_SENT> {
    let released = false;
    const abort = new AbortController();
    iso.requests.add(abort);
    const wall = this.#deadlines.add(
      this.core.wallLimitMs,
      () => abort.abort(new Error("wall time limit")),
    );
    const release = () => {
      if (released) return;
      released = true;
      wall.clear();
      iso.requests.delete(abort);
      this.core.released(iso);
    };
    try {
      if (iso.state !== "active") await iso.ready;
      const a = await iso.proc.fetch(iso.id, req, headers, abort.signal);
      return trackBody(a.res, a.complete, () => iso.touch(), release);
    } catch (err) {
      release();
      if (abort.signal.aborted && !iso.gone.signal.aborted) {
        return new Response("function timed out\n", { status: 504 });
      }
      await settle(iso);
      const why = iso.gone.signal.aborted
        ? String(iso.gone.signal.reason)
        : (err as Error).message;
      const cause = iso.stopCause ?? "broken";
      this.core.log.warn(`isolate ${iso.id} of ${target.key}: ${why}`);
      this.core.broke(iso, cause);
      if (mayRetry && err instanceof NotSentError && !req.bodyUsed) {
        return NOT_SENT;
      }
      return new Response("function failed\n", {
        // the function's own doing: 500; its process or connection: 502
        status: cause === "cpu" || cause === "memory" ? 500 : 502,
      });
    }
  }
}
