/**
 * @module
 * Spawns the daemon's helper processes (isolate workers, the bundler) with
 * umask 077, so everything they create (the transpile and npm caches under
 * DENO_DIR, sockets) is private to the daemon's user: 0600 files, 0700
 * directories. Deno has no stable umask for a child, so the command runs
 * through `/bin/sh -c 'umask 077 && exec "$0" "$@"'`; `exec` keeps the pid,
 * so signals and `status` are the program's own.
 */

/** The umask the helper processes run with. */
export const PRIVATE_UMASK = "077";

/** A `Deno.Command` of `program` that runs with umask 077. */
export function privateCommand(
  program: string,
  options: Deno.CommandOptions = {},
): Deno.Command {
  return new Deno.Command("/bin/sh", {
    ...options,
    args: [
      "-c",
      `umask ${PRIVATE_UMASK} && exec "$0" "$@"`,
      program,
      ...(options.args ?? []).map(String),
    ],
  });
}
