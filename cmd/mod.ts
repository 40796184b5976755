/**
 * @module
 * Builds the commander program from the command files. Each file registers
 * its own command(s); only commands that work are listed.
 */
import { Command } from "commander";
import denoJson from "../deno.json" with { type: "json" };
import { registerSpec } from "./spec.ts";
import { registerServer } from "./server.ts";
import { registerKeys } from "./keys.ts";
import { registerPush } from "./push.ts";

/** The mypaas version, from deno.json. */
export const VERSION: string = denoJson.version;

/** The whole CLI. Errors are thrown (exitOverride), never exit by themselves. */
export function buildCli(): Command {
  const program = new Command("mypaas")
    .description(
      "A self-hosted PaaS daemon and its client: container services and Deno isolate functions",
    )
    .version(VERSION, "-V, --version")
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)");
  registerSpec(program);
  registerServer(program);
  registerKeys(program);
  registerPush(program);
  return program;
}
