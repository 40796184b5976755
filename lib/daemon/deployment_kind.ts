/**
 * @module
 * The one place that decides whether a pushed directory is a container
 * service or an isolate function: a directory without a Dockerfile is a
 * function (its spec is the function side's to read); otherwise the spec's
 * kind decides. A service may not take the name of a running function.
 */
import { InputError } from "../errors.ts";
import type { ServiceSpec } from "../spec/types.ts";
import type { DeployOptions, Platform, ReadSpec } from "./platform.ts";

/** The function side, as far as the dispatch needs it. */
export interface FunctionSide extends Platform {
  has(name: string): boolean;
}

/** Where a directory goes: the function side, or a service with its spec. */
export type DeploymentKind =
  | { kind: "function"; functions: FunctionSide }
  | { kind: "service"; spec: ServiceSpec };

/**
 * Reads as much of `dir` as the choice needs and says which side deploys
 * it. Throws `InputError` for a function on a daemon without functions and
 * (409) for a service named like a function deployment.
 */
export async function deploymentKind(
  dir: string,
  opts: DeployOptions,
  readSpec: ReadSpec,
  functions: FunctionSide | undefined,
): Promise<DeploymentKind> {
  if (functions && !(await hasDockerfile(dir))) {
    return { kind: "function", functions };
  }
  const spec = await readSpec(dir, opts);
  if (spec.kind === "function") {
    if (!functions) {
      throw new InputError(
        `${
          opts.displayDir ?? dir
        } is a function deployment, and this daemon runs no functions`,
      );
    }
    return { kind: "function", functions };
  }
  if (functions?.has(spec.service)) {
    throw new InputError(
      `${spec.service} is already a function deployment: remove it first or pick another mypaas.service`,
      { status: 409 },
    );
  }
  return { kind: "service", spec: spec as ServiceSpec };
}

async function hasDockerfile(dir: string): Promise<boolean> {
  try {
    return (await Deno.stat(`${dir}/Dockerfile`)).isFile;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}
