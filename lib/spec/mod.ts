/**
 * @module
 * The `mypaas.*` comment grammar: Dockerfiles (`#`) -> `ServiceSpec`, Deno
 * entry files (`//`) -> `FunctionSpec`. The parsers are pure; `readSpec`
 * reads a directory. Every error is a `SpecError` (an `InputError`) naming
 * file:line, the key, what was expected and what was found.
 */
export * from "./types.ts";
export { SpecError, type SpecErrorWhere } from "./spec_error.ts";
export {
  KEY_NAMES,
  type KeyInfo,
  KEYS,
  type SpecKey,
  type SpecKind,
} from "./keys.ts";
export type { SpecFlags } from "./_common.ts";
export { parseServiceSpec, type ServiceSpecOptions } from "./service_spec.ts";
export {
  type FunctionSpecOptions,
  parseFunctionSpec,
} from "./function_spec.ts";
export {
  ENTRY_CANDIDATES,
  readSpec,
  type ReadSpecFlags,
  type ReadSpecOptions,
} from "./read_spec.ts";
export { DEFAULT_STICKY_COOKIE, sanitizeName } from "./values_run.ts";
export { formatSpec } from "./format_spec.ts";
