/**
 * @module
 * The audit log: `<data_dir>/audit.log`, one JSON object per line for every
 * push, deploy, rollback and removal, with who (key fingerprint), what
 * (service, release) and how it ended. Appends are serialised so lines never
 * interleave.
 */

/** What one audit line records. */
export interface AuditEvent {
  /** ISO time; filled in by the log. */
  time?: string;
  action: "push" | "deploy" | "rollback" | "remove" | "restart";
  /** Key fingerprint, or "local". */
  actor: string;
  service?: string;
  release?: number | null;
  result: "ok" | "failed" | "refused";
  /** Why it failed or was refused, one line. */
  error?: string;
  /** Client address, when known. */
  remote?: string;
}

/** Where audit events go. */
export interface AuditSink {
  record(event: AuditEvent): Promise<void>;
}

/** Appends JSON lines to a file (mode 0600). */
export class AuditLog implements AuditSink {
  #tail: Promise<void> = Promise.resolve();

  constructor(
    readonly file: string,
    readonly now: () => Date = () => new Date(),
  ) {}

  record(event: AuditEvent): Promise<void> {
    const line = JSON.stringify({ time: this.now().toISOString(), ...event }) +
      "\n";
    const write = this.#tail.then(() =>
      Deno.writeTextFile(this.file, line, { append: true, mode: 0o600 })
    );
    this.#tail = write.catch(() => {});
    return write;
  }
}

/** Keeps events in memory (tests). */
export class MemoryAudit implements AuditSink {
  readonly events: AuditEvent[] = [];
  record(event: AuditEvent): Promise<void> {
    this.events.push(event);
    return Promise.resolve();
  }
}
