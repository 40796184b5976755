/**
 * @module
 * Readiness and liveness probes of a container: an HTTP GET of the check's
 * path (2xx or 3xx passes), or a TCP connect when the service has no check.
 * `waitReady` polls a probe until it passes or a deadline ends.
 */
import type { HttpCheck } from "../spec/types.ts";

/** Where a probe goes. */
export interface ProbeTarget {
  /** Container IP on the daemon's network. */
  host: string;
  port: number;
}

/** One probe: resolves true when the target passes. Never throws. */
export type Prober = (
  target: ProbeTarget,
  check: HttpCheck | undefined,
) => Promise<boolean>;

/** The real probe: HTTP GET with the check's timeout, or a TCP connect. */
export const netProbe: Prober = async (target, check) => {
  const timeoutMs = check?.timeoutMs ?? 1000;
  const host = target.host.includes(":") ? `[${target.host}]` : target.host;
  if (check) {
    try {
      const res = await fetch(`http://${host}:${target.port}${check.path}`, {
        signal: AbortSignal.timeout(timeoutMs),
        redirect: "manual",
      });
      await res.body?.cancel();
      return res.status >= 200 && res.status < 400;
    } catch {
      return false;
    }
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const conn = await Promise.race([
      Deno.connect({ hostname: target.host, port: target.port }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timeout")), timeoutMs);
      }),
    ]);
    conn.close();
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
};

/**
 * Polls `probe` every `check.intervalMs` (default 200 ms) until it passes
 * (true) or `deadlineMs` passed (false). `alive` stops early (false) when
 * the container died.
 */
export async function waitReady(
  probe: Prober,
  target: () => Promise<ProbeTarget | null>,
  check: HttpCheck | undefined,
  opts: { deadlineMs: number; signal?: AbortSignal },
): Promise<{ ok: boolean; why: string }> {
  const end = Date.now() + opts.deadlineMs;
  const interval = Math.min(check?.intervalMs ?? 200, 1000);
  let why = "no answer";
  while (Date.now() < end && !opts.signal?.aborted) {
    const t = await target();
    if (!t) return { ok: false, why: "the container stopped" };
    if (await probe(t, check)) return { ok: true, why: "" };
    why = check
      ? `GET ${check.path} on ${t.host}:${t.port} did not pass`
      : `no TCP connect to ${t.host}:${t.port}`;
    await new Promise((r) =>
      setTimeout(r, Math.max(0, Math.min(interval, end - Date.now())))
    );
  }
  return {
    ok: false,
    why: `${why} within ${Math.round(opts.deadlineMs / 100) / 10}s`,
  };
}
