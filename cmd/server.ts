/**
 * @module
 * The `server` command group: the daemon and the local clients of its
 * control socket.
 */
import type { Command } from "commander";
import { registerServerRun } from "./server_run.ts";
import { registerServerInit } from "./server_init.ts";
import { registerServerCtl } from "./server_ctl.ts";

/** Adds `mypaas server ...`. */
export function registerServer(program: Command): void {
  const server = program.command("server").description(
    "run and manage the daemon on this host",
  );
  registerServerRun(server);
  registerServerInit(server);
  registerServerCtl(server);
}
