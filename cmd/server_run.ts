/**
 * @module
 * `mypaas server run`: the daemon in the foreground (systemd runs this).
 */
import type { Command } from "commander";
import { loadConfig } from "../lib/config/mod.ts";
import { buildDaemon } from "../lib/daemon/build.ts";

/** Adds `mypaas server run`. */
export function registerServerRun(server: Command): void {
  server.command("run")
    .description(
      "run the daemon in the foreground (config.toml, or embedded defaults when there is none)",
    )
    .option(
      "-c, --config <file>",
      "config file (default: $MYPAAS_CONFIG or ~/_mypaas/config.toml)",
    )
    .action(async (opts: { config?: string }) => {
      const config = await loadConfig({
        flag: opts.config,
        envVar: Deno.env.get("MYPAAS_CONFIG"),
        home: Deno.env.get("HOME") ?? "/root",
      });
      const daemon = await buildDaemon(config);
      await daemon.start();
      daemon.log.info(`mypaas running (${config.file ?? "embedded defaults"})`);
      const stopped = Promise.withResolvers<void>();
      const onSignal = () => stopped.resolve();
      Deno.addSignalListener("SIGINT", onSignal);
      Deno.addSignalListener("SIGTERM", onSignal);
      await stopped.promise;
      daemon.log.info("stopping");
      await daemon.stop();
    });
}
