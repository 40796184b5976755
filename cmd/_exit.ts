// deno-lint-ignore-file no-console -- cmd/ is where output to a person belongs
/**
 * @module
 * Maps errors to exit codes and prints them: 2 for bad input (our
 * `InputError`, commander's usage errors), 1 for everything else.
 */
import { CommanderError } from "commander";
import { isInputError } from "../lib/errors.ts";

/** Thrown by a command to exit with a code after it printed its own output. */
export class ExitCode extends Error {
  override name = "ExitCode";
  constructor(readonly code: number, message = "") {
    super(message);
  }
}

/** The process exit code for an error that reached main. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof ExitCode) return err.code;
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  if (isInputError(err)) return 2;
  return 1;
}

/** Prints an error for a person: the message, no stack unless MYPAAS_DEBUG. */
export function printError(err: unknown): void {
  if (err instanceof CommanderError) return; // commander printed it already
  if (err instanceof ExitCode) {
    if (err.message) console.error(err.message);
    return;
  }
  const debug = Deno.env.get("MYPAAS_DEBUG");
  if (err instanceof Error) {
    console.error(`error: ${err.message}`);
    if (debug) console.error(err.stack);
  } else {
    console.error(`error: ${String(err)}`);
  }
}
