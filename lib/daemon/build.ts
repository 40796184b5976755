/**
 * @module
 * Assembles the daemon's parts from the config. Each area adds its part here.
 */
import type { ResolvedConfig } from "../config/mod.ts";
import { Daemon } from "./daemon.ts";

/** Builds (but does not start) the daemon for a config. */
export async function buildDaemon(config: ResolvedConfig): Promise<Daemon> {
  const daemon = new Daemon(config);
  await Promise.resolve();
  return daemon;
}
