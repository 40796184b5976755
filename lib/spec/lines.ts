/**
 * @module
 * Finds the `mypaas.KEY=VALUE` comments of a Dockerfile (`#`) or a Deno entry
 * file (`//`). Like MyPaas, every run of comment markers and blanks before
 * `mypaas.` is skipped, so `#--- mypaas.url=...` (anything else before the
 * key) is a disabled line and ignored. Blanks around `=` are allowed.
 */
import { SpecError } from "./spec_error.ts";

/** The comment marker of a file: `#` for Dockerfiles, `//` for entry files. */
export type CommentStyle = "#" | "//";

/** One `mypaas.KEY=VALUE` comment. */
export interface SpecLine {
  /** 1-based line number. */
  line: number;
  /** The key after `mypaas.`, as written. */
  key: string;
  /** The value, trimmed. */
  value: string;
}

const PREFIX = "mypaas.";

/** The `mypaas.*` comments of `text`, in order. Throws on a line without `=`. */
export function specLines(
  text: string,
  opts: { file: string; style: CommentStyle },
): SpecLine[] {
  const out: SpecLine[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);
  const skip = opts.style === "#" ? /^[#\s]+/ : /^[/\s]+/;
  for (let i = 0; i < lines.length; i++) {
    const trimmed = lines[i]!.trimStart();
    if (!trimmed.startsWith(opts.style)) continue;
    const rest = trimmed.replace(skip, "");
    if (!rest.startsWith(PREFIX)) continue;
    const body = rest.slice(PREFIX.length);
    const eq = body.indexOf("=");
    if (eq < 0) {
      const key = /^[A-Za-z0-9_-]*/.exec(body)![0];
      throw new SpecError(
        { file: opts.file, line: i + 1, key },
        `needs "mypaas.KEY=VALUE": got ${JSON.stringify(rest.trim())}`,
      );
    }
    out.push({
      line: i + 1,
      key: body.slice(0, eq).trim(),
      value: body.slice(eq + 1).trim(),
    });
  }
  return out;
}
