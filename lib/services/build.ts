/**
 * @module
 * Builds a release image from a directory: pulls the base image only when a
 * `FROM` uses `:latest` (a failed pull is tolerated when the image exists
 * locally), streams the build log line by line, and tags the result
 * `mypaas/<service>:<release>` with the spec in its labels (for rollback;
 * env names only, values stay in `release_env.ts`'s files).
 */
import { parse } from "smol-toml";
import { BuildError, type ContainerRuntime } from "../docker/mod.ts";
import { InputError } from "../errors.ts";
import type { ServiceSpec } from "../spec/types.ts";
import { hostKey } from "./host_key.ts";
import { imageRef, LABEL, specLabel } from "./labels.ts";

/** A failed build; `lastLines` are the end of its log. */
export class ReleaseBuildError extends Error {
  override name = "ReleaseBuildError";
  constructor(message: string, readonly lastLines: string[]) {
    super(message);
  }
}

/** The base images that need a pull: `FROM x:latest` lines. */
export function latestBases(dockerfile: string): string[] {
  const out: string[] = [];
  for (const line of dockerfile.split("\n")) {
    const m = /^\s*FROM\s+(?:--\S+\s+)*(\S+)/i.exec(line);
    if (m && m[1]!.endsWith(":latest")) out.push(m[1]!);
  }
  return out;
}

/** The `ignore = [...]` list of the directory's mypaas.toml, if any. */
export async function readIgnoreList(dir: string): Promise<string[]> {
  let text;
  try {
    text = await Deno.readTextFile(`${dir}/mypaas.toml`);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  let raw;
  try {
    raw = parse(text) as { ignore?: unknown };
  } catch (err) {
    throw new InputError(
      `${dir}/mypaas.toml: invalid TOML: ${(err as Error).message}`,
    );
  }
  const ignore = raw.ignore ?? [];
  if (!Array.isArray(ignore) || !ignore.every((i) => typeof i === "string")) {
    throw new InputError(
      `${dir}/mypaas.toml: ignore must be an array of strings`,
    );
  }
  return ignore;
}

/** Builds release `release` of `spec` from `dir`; returns the image id. */
export async function buildRelease(
  runtime: ContainerRuntime,
  opts: {
    dir: string;
    spec: ServiceSpec;
    release: number;
    progress: (line: string) => void;
    /** The data dir, whose host key hashes the spec in the label. */
    dataDir: string;
  },
): Promise<string> {
  const { dir, spec, release, progress } = opts;
  const dockerfile = await Deno.readTextFile(`${dir}/Dockerfile`);
  for (const base of latestBases(dockerfile)) {
    progress(`pulling ${base}`);
    try {
      await runtime.pull(base, () => {});
    } catch (err) {
      if (await runtime.inspectImage(base)) {
        progress(
          `pull of ${base} failed (${
            (err as Error).message
          }); using the local image`,
        );
      } else {
        throw new ReleaseBuildError(
          `cannot pull ${base} and there is no local copy: ${
            (err as Error).message
          }`,
          [],
        );
      }
    }
  }
  const tag = imageRef(spec.service, release);
  progress(`building ${tag}`);
  try {
    return await runtime.build({
      dir,
      tag,
      ignore: await readIgnoreList(dir),
      // one label only: the classic builder adds a build step per label;
      // service and release are in the tag. The step is streamed to the
      // client, so the label holds env names only (and a keyed hash).
      labels: {
        [LABEL.spec]: await specLabel(spec, await hostKey(opts.dataDir)),
      },
    }, progress);
  } catch (err) {
    if (err instanceof BuildError) {
      throw new ReleaseBuildError(
        `${err.message}\n${err.lastLines.slice(-10).join("\n")}`,
        err.lastLines,
      );
    }
    throw err;
  }
}
