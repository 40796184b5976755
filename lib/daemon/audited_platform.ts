/**
 * @module
 * A Platform that writes every change it carries out to the audit log. The
 * local control socket serves through it, so `mypaas server deploy`,
 * `rollback`, `remove` and `restart` are audited like signed remote calls
 * (whose routes audit by themselves, with the key fingerprint).
 */
import type { AuditSink } from "../audit.ts";
import { checkDeploy, type DeployResult, type Platform } from "./platform.ts";

/** Wraps `platform`; `actor` is used when a call names none. */
export function auditedPlatform(
  platform: Platform,
  audit: AuditSink,
  actor = "local",
): Platform {
  const recorded = async (
    action: "deploy" | "rollback",
    who: string,
    service: string | undefined,
    run: () => Promise<DeployResult>,
  ): Promise<DeployResult> => {
    try {
      const r = await run();
      await audit.record({
        action,
        actor: who,
        service: service ?? r.service,
        release: r.release,
        result: r.ok ? "ok" : "failed",
        ...(r.error ? { error: r.error } : {}),
      });
      return r;
    } catch (err) {
      await audit.record({
        action,
        actor: who,
        ...(service ? { service } : {}),
        result: "failed",
        error: (err as Error).message,
      });
      throw err;
    }
  };
  const simple =
    (action: "remove" | "restart") =>
    async (service: string, who = actor): Promise<void> => {
      try {
        await platform[action](service, who);
      } catch (err) {
        await audit.record({
          action,
          actor: who,
          service,
          result: "failed",
          error: (err as Error).message,
        });
        throw err;
      }
      await audit.record({ action, actor: who, service, result: "ok" });
    };
  return {
    check: async (dir, opts) => {
      const who = opts.actor ?? actor;
      // A refused check is recorded like a failed deploy; the deploy it
      // returns is recorded when it ends.
      let checked;
      try {
        checked = await checkDeploy(platform, dir, opts);
      } catch (err) {
        await audit.record({
          action: "deploy",
          actor: who,
          result: "failed",
          error: (err as Error).message,
        });
        throw err;
      }
      return {
        run: (progress) =>
          recorded("deploy", who, undefined, () => checked.run(progress)),
      };
    },
    deploy: (dir, opts, progress) =>
      recorded(
        "deploy",
        opts.actor ?? actor,
        undefined,
        () => platform.deploy(dir, opts, progress),
      ),
    rollback: (service, release, progress, who = actor) =>
      recorded(
        "rollback",
        who,
        service,
        () => platform.rollback(service, release, progress, who),
      ),
    remove: simple("remove"),
    restart: simple("restart"),
    list: () => platform.list(),
    logs: (service, opts) => platform.logs(service, opts),
  };
}
