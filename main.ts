/**
 * @module
 * The mypaas binary: builds the CLI from cmd/ and runs it. Bad input exits 2,
 * a failed operation 1.
 */
import { CommanderError } from "commander";
import { buildCli } from "./cmd/mod.ts";
import { exitCodeFor, printError } from "./cmd/_exit.ts";

if (import.meta.main) {
  const program = buildCli();
  try {
    await program.parseAsync(Deno.args, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError && err.exitCode === 0) Deno.exit(0);
    printError(err);
    Deno.exit(exitCodeFor(err));
  }
}
