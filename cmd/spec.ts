// deno-lint-ignore-file no-console -- cmd/ is where output to a person belongs
/**
 * @module
 * `mypaas spec DIR [--json] [--entry-point F] [--domain D]... [--env K=V]...`:
 * prints the resolved spec of a directory, or throws its `SpecError` (exit 2).
 */
import type { Command } from "commander";
import { loadConfig } from "../lib/config/mod.ts";
import { formatSpec, readSpec, type ReadSpecFlags } from "../lib/spec/mod.ts";

const collect = (value: string, previous: string[] | undefined) => [
  ...(previous ?? []),
  value,
];

interface SpecOpts {
  json?: boolean;
  entryPoint?: string;
  domain?: string[];
  env?: string[];
  skipOptimize?: boolean;
  config?: string;
}

/** Adds `mypaas spec`. */
export function registerSpec(program: Command): void {
  program.command("spec <dir>")
    .description(
      "print the resolved spec of DIR (Dockerfile or Deno entry point), or the error (exit 2)",
    )
    .option("--json", "print JSON (the shape is documented in the README)")
    .option("--entry-point <file>", "entry file of a function directory")
    .option(
      "--domain <host>",
      "route https://HOST to a function (repeatable)",
      collect,
    )
    .option(
      "--env <name[=value]>",
      "set a variable; a bare NAME comes from [env] (repeatable)",
      collect,
    )
    .option("--skip-optimize", "functions: deploy without bundling")
    .option(
      "-c, --config <file>",
      "config file for [env] (default: $MYPAAS_CONFIG or ~/_mypaas/config.toml)",
    )
    .action(async (dir: string, opts: SpecOpts) => {
      const home = Deno.env.get("HOME") ?? "/root";
      const config = await loadConfig({
        flag: opts.config,
        envVar: Deno.env.get("MYPAAS_CONFIG"),
        home,
      });
      const options: ReadSpecFlags = {
        domains: opts.domain ?? [],
        env: opts.env ?? [],
      };
      if (opts.entryPoint !== undefined) options.entrypoint = opts.entryPoint;
      if (opts.skipOptimize) options.skipOptimize = true;
      const spec = await readSpec(dir, { env: config.env, home, options });
      if (opts.json) console.log(JSON.stringify(spec, null, 2));
      else console.log(formatSpec(spec).trimEnd());
    });
}
