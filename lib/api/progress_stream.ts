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
 * While the operation says nothing (a silent build step), a heartbeat line
 * (`mypaas: working (Ns)`) goes out every `heartbeatMs`, so that neither the
 * daemon's connection guard (`[proxy] keepalive_timeout`, which closes a
 * connection nothing was sent on for that long) nor a middlebox cuts the
 * stream. Our client skips these lines; a MyPaas client prints them.
 */
import { type Clock, realClock } from "../clock.ts";
import { isInputError } from "../errors.ts";

/** The prefix of the final line. */
export const MARKER = "mypaas: ";

/** The start of a heartbeat line; clients skip lines that start so. */
export const HEARTBEAT = `${MARKER}working`;

/** True for a heartbeat line. */
export function isHeartbeat(line: string): boolean {
  return line.startsWith(HEARTBEAT);
}

/**
 * The heartbeat interval for a connection guard's keep-alive timeout: a
 * third of it (so two heartbeats fit in before the guard looks), at most
 * 20 s (middleboxes), at least 50 ms.
 */
export function heartbeatFor(keepaliveTimeoutMs: number): number {
  return Math.max(50, Math.min(20_000, Math.floor(keepaliveTimeoutMs / 3)));
}

/** Options of a progress stream. */
export interface ProgressStreamOptions {
  /** Send a heartbeat after this long without a line (default 20 s). */
  heartbeatMs?: number;
  clock?: Clock;
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
  opts: ProgressStreamOptions = {},
): Response {
  const enc = new TextEncoder();
  const clock = opts.clock ?? realClock;
  const every = opts.heartbeatMs ?? 20_000;
  const started = clock.now();
  let closed = false;
  let timer: unknown;
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const arm = () => {
    clock.clearTimeout(timer);
    if (closed) return;
    timer = clock.setTimeout(() => {
      const s = Math.round((clock.now() - started) / 1000);
      send(`${HEARTBEAT} (${s}s)\n`);
    }, every);
  };
  const send = (text: string) => {
    if (closed) return;
    try {
      ctl.enqueue(enc.encode(text));
    } catch {
      closed = true; // the client went away; the operation goes on
    }
    arm();
  };
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      ctl = c;
      arm();
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
        clock.clearTimeout(timer);
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
      clock.clearTimeout(timer);
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
