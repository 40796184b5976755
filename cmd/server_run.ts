/**
 * @module
 * `mypaas server run`: the daemon in the foreground (systemd runs this).
 * SIGHUP or an edit of config.toml reloads it without dropping connections.
 */
import type { Command } from "commander";
import { basename, dirname, resolve } from "node:path";
import { Backoff, RepeatLog } from "../lib/backoff.ts";
import { sleep } from "../lib/clock.ts";
import { loadConfig } from "../lib/config/mod.ts";
import type { Logger } from "../lib/log.ts";
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
      const daemon = buildDaemon(config);
      await daemon.start();
      daemon.log.info(`mypaas running (${config.file ?? "embedded defaults"})`);
      const reload = reloader(daemon, load);
      const stopped = Promise.withResolvers<void>();
      const onSignal = () => stopped.resolve();
      Deno.addSignalListener("SIGINT", onSignal);
      Deno.addSignalListener("SIGTERM", onSignal);
      Deno.addSignalListener("SIGHUP", reload);
      const watcher = config.file
        ? watchFile(config.file, reload, daemon.log.child("config"))
        : undefined;
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

/**
 * Calls `onChange` (debounced) when the file is written or replaced. A watch
 * that breaks (its directory removed, as a config management tool may do)
 * is re-opened with backoff, logged at most once a minute; once it watches
 * again it calls `onChange`, as the file may have changed meanwhile.
 */
function watchFile(
  file: string,
  onChange: () => void,
  log: Logger,
): { close(): void } {
  // events name absolute paths; `--config` may be relative
  const dir = dirname(resolve(file));
  const name = basename(file);
  const ctl = new AbortController();
  const backoff = new Backoff({ baseMs: 500, maxMs: 30_000 });
  const failures = new RepeatLog((m) => log.warn(m));
  let watcher: Deno.FsWatcher | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, 200);
  };
  const closeWatcher = () => {
    const w = watcher;
    watcher = undefined;
    try {
      w?.close();
    } catch (err) {
      if (!(err instanceof Deno.errors.BadResource)) throw err; // closed
    }
  };
  void (async () => {
    while (!ctl.signal.aborted) {
      try {
        watcher = Deno.watchFs(dir, { recursive: false });
        if (backoff.failures) {
          backoff.reset();
          log.info(`watching ${file} again after ${failures.ok()} failures`);
          changed();
        }
        for await (const event of watcher) {
          if (event.kind === "remove" && event.paths.includes(dir)) {
            throw new Error(`${dir} was removed`);
          }
          if (event.kind === "access") continue;
          if (!event.paths.some((p) => p.endsWith(`/${name}`))) continue;
          changed();
        }
        if (!ctl.signal.aborted) throw new Error("the watch ended");
      } catch (err) {
        if (ctl.signal.aborted) break;
        closeWatcher();
        const wait = backoff.fail();
        failures.fail(
          `watching ${file} for changes failed: ${
            (err as Error).message
          }; SIGHUP still reloads; next try in ${Math.round(wait / 100) / 10}s`,
        );
        await sleep(wait, { signal: ctl.signal });
      }
    }
  })();
  return {
    close() {
      ctl.abort();
      clearTimeout(timer);
      closeWatcher();
    },
  };
}
