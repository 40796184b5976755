/**
 * @module
 * `SpecError`: a bad `mypaas.*` comment or push flag. It is an `InputError`
 * (exit 2, HTTP 400) that also carries where it came from, so that callers
 * and tests can point at the exact line.
 */
import { InputError } from "../errors.ts";

/** Where a spec error was found. Line 0 means the file (or flag) as a whole. */
export interface SpecErrorWhere {
  /** File name as shown to the user (`Dockerfile`, `app/main.ts`, `--domain`). */
  file: string;
  /** 1-based line number, or 0 when the error is about the whole file. */
  line: number;
  /** The key without its `mypaas.` prefix (`healthcheck`), or "" if none. */
  key: string;
}

/**
 * A malformed deploy spec. The message reads
 * `Dockerfile:7: mypaas.healthcheck needs "/path interval timeout": got "/up 5s"`.
 */
export class SpecError extends InputError {
  override name = "SpecError";
  readonly file: string;
  readonly line: number;
  readonly key: string;
  constructor(where: SpecErrorWhere, detail: string, options?: ErrorOptions) {
    const at = where.line > 0 ? `${where.file}:${where.line}` : where.file;
    // A flag error (`--domain`) names the flag, not a comment key.
    const key = where.key && !where.file.startsWith("--")
      ? ` mypaas.${where.key}`
      : "";
    super(`${at}:${key} ${detail}`, options);
    this.file = where.file;
    this.line = where.line;
    this.key = where.key;
  }
}
