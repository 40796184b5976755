/**
 * @module
 * Streams an operation's progress lines to the client as chunked text and
 * ends with one marker line that the client turns into its exit code:
 *
 *   mypaas: <op> ok[ release N]
 *   mypaas: <op> failed: <why>      (exit 1)
 *   mypaas: <op> refused: <why>     (exit 2: bad input, e.g. a spec error)
 *
 * A MyPaas client just prints every line, so it stays readable there too.
 */
import { isInputError } from "../errors.ts";

/** The prefix of the final line. */
export const MARKER = "mypaas: ";

/** The outcome an operation reports on its final line. */
export interface Outcome {
  ok: boolean;
  release?: number | null;
  error?: string;
}

/** Parses a marker line; undefined for ordinary lines. */
export function parseMarker(
  line: string,
):
  | { op: string; status: "ok" | "failed" | "refused"; detail: string }
  | undefined {
  const m = /^mypaas: (\w+) (ok|failed|refused)(?::? ?(.*))$/.exec(
    line.trimEnd(),
  );
  if (!m) return undefined;
  return {
    op: m[1]!,
    status: m[2] as "ok" | "failed" | "refused",
    detail: m[3] ?? "",
  };
}

/** The marker line for an outcome. */
export function markerLine(op: string, outcome: Outcome): string {
  if (outcome.ok) {
    return `${MARKER}${op} ok${
      outcome.release != null ? ` release ${outcome.release}` : ""
    }`;
  }
  return `${MARKER}${op} failed: ${oneLine(outcome.error ?? "unknown error")}`;
}

/**
 * A text response that streams `run`'s progress lines, then the marker. An
 * error thrown by `run` becomes a failed (or, for bad input, refused) marker;
 * its text is shown only for bad input, other errors go to `onError`.
 */
export function progressResponse(
  op: string,
  run: (progress: (line: string) => void) => Promise<Outcome>,
  onError: (err: unknown) => void,
): Response {
  const enc = new TextEncoder();
  let closed = false;
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const send = (text: string) => {
    if (closed) return;
    try {
      ctl.enqueue(enc.encode(text));
    } catch {
      closed = true; // the client went away; the operation goes on
    }
  };
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      ctl = c;
      const progress = (line: string) => {
        for (const l of line.split("\n")) if (l.trim()) send(l + "\n");
      };
      run(progress).then(
        (outcome) => send(markerLine(op, outcome) + "\n"),
        (err) => {
          if (isInputError(err)) {
            send(
              `${MARKER}${op} refused: ${oneLine((err as Error).message)}\n`,
            );
          } else {
            onError(err);
            send(
              `${MARKER}${op} failed: internal error (see the daemon's log)\n`,
            );
          }
        },
      ).finally(() => {
        if (!closed) {
          closed = true;
          try {
            ctl.close();
          } catch { /* cancelled */ }
        }
      });
    },
    cancel() {
      closed = true;
    },
  });
  return new Response(body, {
    status: 200,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    },
  });
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " | ").slice(0, 2000);
}
