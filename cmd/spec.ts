/**
 * @module
 * `mypaas spec DIR [--json]`: prints the resolved spec of a directory.
 */
import type { Command } from "commander";

/** Adds `mypaas spec`. */
export function registerSpec(program: Command): void {
  program.command("spec <dir>")
    .description("print the resolved spec of DIR (Dockerfile or Deno entry point), or the error (exit 2)")
    .option("--json", "print JSON (the shape is documented in the README)")
    .action((_dir: string, _opts: { json?: boolean }) => {
      throw new Error("not implemented yet");
    });
}
