/**
 * @module
 * Folder-private helper: where a value came from, and the error that says
 * what was expected and what was found.
 */
import { SpecError, type SpecErrorWhere } from "./spec_error.ts";

/** Where a value came from. */
export type At = SpecErrorWhere;

/** `needs GRAMMAR: got "VALUE"`, optionally with why it is wrong. */
export function needs(
  at: At,
  grammar: string,
  value: string,
  why?: string,
): SpecError {
  const got = JSON.stringify(
    value.length > 200 ? value.slice(0, 200) + "…" : value,
  );
  return new SpecError(
    at,
    `needs ${grammar}: got ${got}${why ? ` (${why})` : ""}`,
  );
}
