/**
 * `deno run -A main.ts ARGS` as a child process, for tests that drive the
 * CLI the way a user does: exit code and decoded output.
 */

/** The repository root (the directory that holds main.ts). */
export const ROOT = new URL("../", import.meta.url).pathname;

/** The Deno cache the child shares with this process (no re-download). */
export const DENO_DIR = Deno.env.get("DENO_DIR") ??
  `${Deno.env.get("HOME") ?? "/root"}/.cache/deno`;

/** What a finished CLI process left behind. */
export interface MainOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `main.ts ARGS` to its end with stdin closed, NO_COLOR set and the
 * shared DENO_DIR; `env` adds to (or overrides) the inherited environment.
 */
export async function runMain(
  args: string[],
  env: Record<string, string> = {},
): Promise<MainOutput> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: ROOT,
    env: { DENO_DIR, NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}
