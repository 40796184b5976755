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
 *
 * While the operation is silent longer than the heartbeat interval (a third
 * of `[proxy] keepalive_timeout`, so the connection guard never sees the
 * connection idle), a heartbeat line `mypaas: working (Ns)` is sent; our
 * client does not print it, a MyPaas client prints it as progress.
 */
import { isInputError } from "../errors.ts";

/** The prefix of the final line. */
export const MARKER = "mypaas: ";

/** How a heartbeat line starts (it never parses as a marker). */
export const HEARTBEAT = `${MARKER}working`;

/** True for a heartbeat line. */
export function isHeartbeat(line: string): boolean {
  return line.startsWith(HEARTBEAT);
}

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
  opts: { heartbeatMs?: number } = {},
): Response {
  const enc = new TextEncoder();
  let closed = false;
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const started = Date.now();
  let lastSent = started;
  let beat: ReturnType<typeof setInterval> | undefined;
  const send = (text: string) => {
    if (closed) return;
    try {
      ctl.enqueue(enc.encode(text));
      lastSent = Date.now();
    } catch {
      closed = true; // the client went away; the operation goes on
    }
  };
  const every = opts.heartbeatMs;
  if (every !== undefined && every > 0) {
    // ticks at a fraction of the interval; beats only after `every` of silence
    const tick = Math.max(10, Math.floor(every / 4));
    beat = setInterval(() => {
      if (closed) return clearInterval(beat);
      if (Date.now() - lastSent >= every) {
        send(
          `${HEARTBEAT} (${Math.round((Date.now() - started) / 1000)}s)\n`,
        );
      }
    }, tick);
  }
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
        clearInterval(beat);
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
      clearInterval(beat);
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
