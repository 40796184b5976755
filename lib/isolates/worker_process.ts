/**
 * @module
 * The daemon's handle on one isolate-worker process: spawns
 * `deno run runtime/process_main.ts` with narrowed flags (no --allow-run,
 * --allow-ffi or --allow-env; reads only of the runtime and artifact dirs;
 * writes only in its own socket dir; net minus the denied ranges; a memory
 * cap per isolate, with V8's heap limit as a backstop above it). Control calls go over the process's `control.sock`;
 * requests go straight to each isolate's own socket (measured: about 4x the
 * throughput of relaying them through the process by postMessage). Stdout
 * carries the process's events (isolate logs and exits).
 */
import { privateCommand } from "./private_spawn.ts";
import { type IsolateAnswer, UnixHttpClient } from "./unix_http.ts";

/** How to start worker processes. */
export interface WorkerProcessOptions {
  /** The `deno` binary (not the mypaas binary when compiled). */
  denoPath: string;
  /** Directory holding process_main.ts and isolate_main.ts. */
  runtimeDir: string;
  /** Directory for the processes' Unix sockets. */
  socketDir: string;
  /** Paths isolates may read while loading code. */
  readPaths: string[];
  /**
   * Entries for --deny-net (CIDRs and hosts); a function is called at each
   * process start (the host's own addresses follow interface changes).
   */
  denyNet: string[] | (() => string[]);
  /** Memory cap (JS heap + external buffers) of each isolate, bytes. */
  memoryLimit: number;
  cpuLimitMs: number;
  loadTimeoutMs: number;
  /** More V8 flags (e.g. `--max-semi-space-size=1` for density). */
  v8Flags?: string[];
  /** DENO_DIR of the processes (their module cache). */
  denoDir: string;
}

/**
 * Why an isolate stopped, as its worker process reports it (a value to act
 * on; the `reason` sentence beside it is for people): over its CPU budget,
 * over its memory cap, an uncaught error, a failed boot, a load past its
 * time, stopped on request; the daemon adds `crash` (its process died) and
 * `broken` (its connection broke with no report).
 */
export type StopCause =
  | "cpu"
  | "memory"
  | "error"
  | "boot"
  | "load-timeout"
  | "stopped"
  | "crash"
  | "broken";

const STOP_CAUSES = new Set<string>([
  "cpu",
  "memory",
  "error",
  "boot",
  "load-timeout",
  "stopped",
  "crash",
  "broken",
]);

/** A cause read from a process's event line; unknown values are `error`. */
export function stopCause(value: unknown): StopCause {
  return typeof value === "string" && STOP_CAUSES.has(value)
    ? value as StopCause
    : "error";
}

/** Something that happened inside a worker process. */
export type WorkerEvent =
  | { ev: "log"; id: string; level: string; msg: string }
  /** The isolate's outbound fetches moved (activity for idle shutdown). */
  | { ev: "active"; id: string }
  /** The isolate left a ping unanswered: it is running synchronous code. */
  | { ev: "stuck"; id: string }
  /** ... and has answered again since. */
  | { ev: "unstuck"; id: string }
  | { ev: "exit"; id: string; cause: StopCause; reason: string };

const EVENTS = new Set(["log", "active", "stuck", "unstuck", "exit"]);

let counter = 0;

/** One isolate-worker process. */
export class WorkerProcess {
  readonly name: string;
  /** This process's socket dir (control.sock and one socket per isolate). */
  readonly socketDir: string;
  readonly socketPath: string;
  #child: Deno.ChildProcess | null = null;
  #client: UnixHttpClient | null = null;
  readonly #clients = new Map<string, UnixHttpClient>();
  #stdin: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #exited = false;
  /** Resolves when the process has exited (crash or stop). */
  readonly exited: Promise<{ code: number; signal: string | null }>;
  #resolveExited!: (s: { code: number; signal: string | null }) => void;
  /** Isolates hosted here, by id. */
  readonly isolates = new Set<string>();

  constructor(
    readonly options: WorkerProcessOptions,
    readonly onEvent: (e: WorkerEvent) => void,
  ) {
    this.name = `wp${Deno.pid}-${++counter}`;
    this.socketDir = `${options.socketDir}/${this.name}`;
    this.socketPath = `${this.socketDir}/control.sock`;
    this.exited = new Promise((r) => this.#resolveExited = r);
  }

  /** Process id, once started. */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** True once the process is gone. */
  get isExited(): boolean {
    return this.#exited;
  }

  /** The command line, for diagnostics and tests. */
  args(): string[] {
    const o = this.options;
    const heapMb = Math.max(16, Math.ceil(o.memoryLimit / 2 ** 20));
    // V8's own limit (fatal for the whole process) is only a backstop above
    // the cap: process_main.ts stops an isolate over the cap on its own.
    const backstopMb = heapMb + Math.max(32, Math.ceil(heapMb / 2));
    const args = [
      "run",
      "--no-prompt",
      "--no-config",
      "--no-lock",
      "--unstable-worker-options",
      `--allow-read=${[o.runtimeDir, ...o.readPaths, this.socketDir]}`,
      `--allow-write=${this.socketDir}`,
      "--allow-net",
      `--v8-flags=${[
        `--max-old-space-size=${backstopMb}`,
        // lets an isolate collect garbage before it reports being over
        "--expose-gc-as=__mypaas_gc",
        // minor mark-sweep young GC: ~0.6 MiB less per warm isolate, same
        // req/s (bench/isolates_density_bench.ts; other flags cost 30-40%)
        "--minor-ms",
        ...(o.v8Flags ?? []),
      ]}`,
    ];
    const deny = typeof o.denyNet === "function" ? o.denyNet() : o.denyNet;
    if (deny.length) args.push(`--deny-net=${deny.join(",")}`);
    args.push(
      `${o.runtimeDir}/process_main.ts`,
      this.socketDir,
      JSON.stringify({
        cpuLimitMs: o.cpuLimitMs,
        memoryLimit: o.memoryLimit,
        readPaths: o.readPaths,
        loadTimeoutMs: o.loadTimeoutMs,
      }),
    );
    return args;
  }

  /** Spawns the process and waits until its socket listens. */
  async start(timeoutMs = 10_000): Promise<void> {
    await Deno.remove(this.socketDir, { recursive: true }).catch(() => {});
    await Deno.mkdir(this.socketDir, { recursive: true, mode: 0o700 });
    const child = privateCommand(this.options.denoPath, {
      args: this.args(),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      clearEnv: true,
      env: {
        NO_COLOR: "1",
        DENO_NO_UPDATE_CHECK: "1",
        DENO_DIR: this.options.denoDir,
      },
    }).spawn();
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    const ready = Promise.withResolvers<void>();
    let stderr = "";
    void this.#readEvents(child.stdout, ready.resolve);
    void (async () => {
      for await (
        const chunk of child.stderr.pipeThrough(new TextDecoderStream())
      ) {
        stderr = (stderr + chunk).slice(-4000);
      }
    })();
    void child.status.then((s) => {
      this.#exited = true;
      this.#closeClient();
      ready.reject(
        new Error(
          `isolate worker process exited with code ${s.code} before it was ready: ${stderr.trim()}`,
        ),
      );
      this.#resolveExited({ code: s.code, signal: s.signal });
      void Deno.remove(this.socketDir, { recursive: true }).catch(() => {});
    });
    const timer = setTimeout(
      () =>
        ready.reject(
          new Error(`isolate worker process not ready after ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    try {
      await ready.promise;
    } catch (err) {
      await this.stop();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    this.#client = new UnixHttpClient(this.socketPath);
  }

  async #readEvents(
    stdout: ReadableStream<Uint8Array>,
    ready: () => void,
  ): Promise<void> {
    let buf = "";
    for await (const chunk of stdout.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let event: { ev: string } & Record<string, unknown>;
        try {
          event = JSON.parse(line);
        } catch {
          continue;
        }
        if (event.ev === "ready") ready();
        else if (EVENTS.has(event.ev)) {
          if (event.ev === "exit") {
            this.isolates.delete(String(event.id));
            this.forget(String(event.id));
            event.cause = stopCause(event.cause);
            event.reason = String(event.reason ?? event.cause);
          }
          this.onEvent(event as unknown as WorkerEvent);
        }
      }
    }
  }

  async #control(
    call: string,
    body: unknown,
  ): Promise<{ error?: string; socket?: string }> {
    if (!this.#client || this.#exited) {
      throw new Error(`isolate worker process ${this.name} is not running`);
    }
    const res = await this.#client.request(
      "POST",
      `/_mypaas/${call}`,
      new Headers({ "content-type": "application/json" }),
      ReadableStream.from([new TextEncoder().encode(JSON.stringify(body))]),
      // Bounded: a wedged process must not wedge the pool.
      AbortSignal.timeout(this.options.loadTimeoutMs + 5000),
    );
    const out = await res.json() as { error?: string; socket?: string };
    if (!res.ok) {
      throw new Error(out.error ?? `${call} failed with ${res.status}`);
    }
    return out;
  }

  /** Boots a standby isolate (runtime loaded, no user code). */
  async createIsolate(id: string): Promise<void> {
    this.isolates.add(id); // may already be reserved by the pool
    try {
      const { socket } = await this.#control("create", { id });
      this.#clients.set(id, new UnixHttpClient(socket ?? ""));
    } catch (err) {
      this.isolates.delete(id);
      throw err;
    }
  }

  /** Loads a deployment's artifact into a standby isolate. */
  async loadIsolate(
    id: string,
    url: string,
    env: Record<string, string>,
    inline = false,
  ): Promise<void> {
    await this.#control("load", { id, url, env, inline });
  }

  /** Terminates an isolate. */
  async stopIsolate(id: string): Promise<void> {
    this.isolates.delete(id);
    this.forget(id);
    await this.#control("stop", { id }).catch(() => {});
  }

  /** Sends a request to an isolate; the body streams both ways. */
  fetch(
    id: string,
    req: Request,
    headers: [string, string][],
    signal?: AbortSignal,
  ): Promise<IsolateAnswer> {
    const client = this.#clients.get(id);
    if (!client || this.#exited) {
      return Promise.reject(new Error(`isolate ${id} of ${this.name} is gone`));
    }
    return client.forward(req, headers, signal);
  }

  /** Ends the process (closing stdin, then SIGKILL); idempotent, bounded. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    if (!this.#exited) {
      await this.#stdin?.close().catch(() => {});
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, 1000);
      await child.status;
      clearTimeout(timer);
    }
    this.#closeClient();
  }

  /** Drops the client of an isolate that is gone. */
  forget(id: string): void {
    try {
      this.#clients.get(id)?.close();
    } catch { /* closed */ }
    this.#clients.delete(id);
  }

  #closeClient(): void {
    for (const id of [...this.#clients.keys()]) this.forget(id);
    const client = this.#client;
    this.#client = null;
    try {
      client?.close();
    } catch { /* already closed */ }
  }

  /** Kills the process at once (tests simulate crashes with it). */
  kill(): void {
    try {
      this.#child?.kill("SIGKILL");
    } catch { /* already gone */ }
  }
}
