/**
 * @module
 * Run a deploy or rollback inside a progress stream and audit its outcome:
 * "ok" or "failed" with the release it left serving, or "failed" with the
 * thrown error (which is rethrown for the stream to report).
 */
import type { AuditSink } from "../audit.ts";
import type { DeployResult } from "../daemon/platform.ts";
import type { Outcome } from "./progress_stream.ts";

/** Who did what to which service (without `service`, the result names it). */
export interface AuditedAction {
  action: "deploy" | "rollback";
  actor: string;
  service?: string;
}

/** Runs `run`, records one audit event for it, and maps it to an Outcome. */
export async function auditedRun(
  audit: AuditSink,
  what: AuditedAction,
  run: () => Promise<DeployResult>,
): Promise<Outcome> {
  try {
    const r = await run();
    await audit.record({
      action: what.action,
      actor: what.actor,
      service: what.service ?? r.service,
      release: r.release,
      result: r.ok ? "ok" : "failed",
      ...(r.error ? { error: r.error } : {}),
    });
    return r.ok
      ? { ok: true, release: r.release }
      : { ok: false, error: r.error ?? `${what.action} failed` };
  } catch (err) {
    await audit.record({
      ...what,
      result: "failed",
      error: (err as Error).message,
    });
    throw err;
  }
}
