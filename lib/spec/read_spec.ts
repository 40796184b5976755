/**
 * @module
 * `readSpec`: the one place of lib/spec that reads files. A directory with a
 * `Dockerfile` is a service; otherwise its Deno entry point makes it a
 * function. The entry point is `--entry-point`, else deno.json's "main",
 * else the first of main.ts, main.js, mod.ts, server.ts, index.ts, else
 * deno.json's string "exports".
 */
import { InputError } from "../errors.ts";
import type { SpecFlags } from "./_common.ts";
import { parseFunctionSpec } from "./function_spec.ts";
import { specLines } from "./lines.ts";
import { parseServiceSpec } from "./service_spec.ts";
import { SpecError } from "./spec_error.ts";
import type { DeploySpec } from "./types.ts";
import { parseEntrypoint } from "./values_run.ts";

/** Entry files tried in order when neither the flag nor deno.json names one. */
export const ENTRY_CANDIDATES = [
  "main.ts",
  "main.js",
  "mod.ts",
  "server.ts",
  "index.ts",
] as const;

/** The flags of `push` / `spec` that shape a directory's spec. */
export interface ReadSpecFlags extends SpecFlags {
  /** `--entry-point F`: the function's entry file, relative to the directory. */
  entrypoint?: string;
}

/** What `readSpec` resolves against. */
export interface ReadSpecOptions {
  /** `[env]` of config.toml. */
  env: Readonly<Record<string, string>>;
  /** Home directory, for `~` in volumes. */
  home: string;
  options?: ReadSpecFlags;
  /** How to show the directory in messages and `spec.file` (default: `dir`). */
  displayDir?: string;
}

/** Reads a deployment directory into its spec. Throws `InputError`s. */
export async function readSpec(
  dir: string,
  opts: ReadSpecOptions,
): Promise<DeploySpec> {
  const flags = opts.options ?? {};
  const shown = opts.displayDir ?? dir;
  const show = (name: string) =>
    shown === "." || shown === ""
      ? name
      : `${shown.replace(/\/+$/, "")}/${name}`;
  await requireDir(dir);
  const dockerfile = await readText(`${dir}/Dockerfile`);
  if (dockerfile !== undefined) {
    for (
      const [flag, given] of [
        ["--entry-point", flags.entrypoint !== undefined],
        ["--domain", (flags.domains ?? []).length > 0],
      ] as const
    ) {
      if (given) {
        throw new SpecError(
          { file: flag, line: 0, key: "" },
          `applies to functions only, and ${shown} has a Dockerfile (use mypaas.url there)`,
        );
      }
    }
    return parseServiceSpec(dockerfile, {
      file: show("Dockerfile"),
      env: opts.env,
      home: opts.home,
      ...(flags.env ? { flagEnv: flags.env } : {}),
    });
  }
  const entry = await findEntry(dir, shown, flags.entrypoint);
  const text = (await readText(`${dir}/${entry}`))!;
  const spec = parseFunctionSpec(text, {
    file: show(entry),
    env: opts.env,
    home: opts.home,
    name: await baseName(dir),
    entrypoint: entry,
    flags,
  });
  if (
    spec.entrypoint !== entry && !(await isFile(`${dir}/${spec.entrypoint}`))
  ) {
    const line = specLines(text, { file: entry, style: "//" })
      .find((l) => l.key === "entrypoint")?.line ?? 0;
    throw new SpecError(
      { file: show(entry), line, key: "entrypoint" },
      `names ${
        JSON.stringify(spec.entrypoint)
      }, which is not a file in ${shown}`,
    );
  }
  return spec;
}

async function findEntry(
  dir: string,
  shown: string,
  flag: string | undefined,
): Promise<string> {
  if (flag !== undefined) {
    const entry = parseEntrypoint(flag, {
      file: "--entry-point",
      line: 0,
      key: "",
    });
    if (!(await isFile(`${dir}/${entry}`))) {
      throw new InputError(
        `--entry-point: ${JSON.stringify(entry)} is not a file in ${shown}`,
      );
    }
    return entry;
  }
  const denoJson = await readDenoJson(dir);
  const main = denoJson?.main;
  if (typeof main === "string") {
    return await existing(dir, shown, main, `deno.json "main"`);
  }
  for (const name of ENTRY_CANDIDATES) {
    if (await isFile(`${dir}/${name}`)) return name;
  }
  const exports = denoJson?.exports;
  if (typeof exports === "string") {
    return await existing(dir, shown, exports, `deno.json "exports"`);
  }
  throw new InputError(
    `${shown}: no Dockerfile and no Deno entry point (looked for ${
      ENTRY_CANDIDATES.join(", ")
    } and deno.json "main"/"exports"); add one or pass --entry-point FILE`,
  );
}

async function existing(dir: string, shown: string, raw: string, what: string) {
  const entry = parseEntrypoint(raw, {
    file: `${shown}/deno.json`,
    line: 0,
    key: "",
  });
  if (!(await isFile(`${dir}/${entry}`))) {
    throw new InputError(
      `${shown}/deno.json: ${what} names ${
        JSON.stringify(raw)
      }, which is not a file`,
    );
  }
  return entry;
}

async function readDenoJson(
  dir: string,
): Promise<Record<string, unknown> | undefined> {
  const text = await readText(`${dir}/deno.json`);
  if (text === undefined) return undefined;
  try {
    const json = JSON.parse(text);
    return typeof json === "object" && json !== null ? json : undefined;
  } catch (err) {
    throw new InputError(
      `${dir}/deno.json: not valid JSON: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

async function requireDir(dir: string): Promise<void> {
  try {
    if ((await Deno.stat(dir)).isDirectory) return;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  throw new InputError(`${dir}: not a directory`);
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (
      err instanceof Deno.errors.NotFound ||
      err instanceof Deno.errors.IsADirectory
    ) {
      return undefined;
    }
    throw err;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

async function baseName(dir: string): Promise<string> {
  const real = await Deno.realPath(dir);
  return real.split("/").filter(Boolean).pop() ?? "";
}
