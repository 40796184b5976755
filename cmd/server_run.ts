/**
 * @module
 * `mypaas server run`: the daemon in the foreground (systemd runs this).
 * SIGHUP or an edit of config.toml reloads it without dropping connections.
 */
import type { Command } from "commander";
import { loadConfig } from "../lib/config/mod.ts";
import { buildDaemon } from "../lib/daemon/build.ts";
import type { Daemon } from "../lib/daemon/daemon.ts";

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
      const load = () =>
        loadConfig({
          flag: opts.config,
          envVar: Deno.env.get("MYPAAS_CONFIG") || undefined,
          home: Deno.env.get("HOME") ?? "/root",
        });
      const config = await load();
      const daemon = await buildDaemon(config);
      await daemon.start();
      daemon.log.info(`mypaas running (${config.file ?? "embedded defaults"})`);
      const reload = reloader(daemon, load);
      const stopped = Promise.withResolvers<void>();
      const onSignal = () => stopped.resolve();
      Deno.addSignalListener("SIGINT", onSignal);
      Deno.addSignalListener("SIGTERM", onSignal);
      Deno.addSignalListener("SIGHUP", reload);
      const watcher = config.file ? watchFile(config.file, reload) : undefined;
      await stopped.promise;
      daemon.log.info("stopping");
      watcher?.close();
      Deno.removeSignalListener("SIGHUP", reload);
      await daemon.stop();
    });
}

/**
 * A reload that never overlaps itself and never takes the daemon down: a
 * config that fails to load is reported and the running one stays.
 */
function reloader(
  daemon: Daemon,
  load: () => ReturnType<typeof loadConfig>,
): () => void {
  let running: Promise<void> | undefined;
  let again = false;
  const run = async () => {
    do {
      again = false;
      try {
        await daemon.reload(await load());
      } catch (err) {
        daemon.log.error(
          `config not reloaded, the running one stays: ${
            (err as Error).message
          }`,
        );
      }
    } while (again);
    running = undefined;
  };
  return () => {
    if (running) again = true;
    else running = run();
  };
}

/** Calls `onChange` (debounced) when the file is written or replaced. */
function watchFile(file: string, onChange: () => void): Deno.FsWatcher {
  const dir = file.slice(0, file.lastIndexOf("/")) || "/";
  const name = file.slice(file.lastIndexOf("/") + 1);
  const watcher = Deno.watchFs(dir, { recursive: false });
  let timer: ReturnType<typeof setTimeout> | undefined;
  (async () => {
    for await (const event of watcher) {
      if (event.kind === "access") continue;
      if (!event.paths.some((p) => p.endsWith(`/${name}`))) continue;
      clearTimeout(timer);
      timer = setTimeout(onChange, 200);
    }
  })().catch(() => {});
  return watcher;
}
