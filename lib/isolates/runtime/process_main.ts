/**
 * @module
 * The main module of one isolate-worker process (`deno run` with narrowed
 * flags, spawned by lib/isolates/worker_process.ts). Hosts isolates as Deno
 * Workers with narrowed permissions. Each isolate serves HTTP on its own Unix
 * socket in this process's socket dir, so requests never pass through this
 * module; it answers the daemon's control calls (`/_mypaas/{create,load,
 * stop}` on `control.sock`), stops isolates stuck in CPU or over their
 * memory cap (each checks its own on a ping, see isolate_main.ts), and writes
 * isolate console output, outbound activity, stuck/unstuck (a ping left
 * unanswered, then answered) and exits to stdout as JSON lines. Exits when stdin
 * closes (the daemon went away). Imports nothing of the daemon.
 *
 * Usage: process_main.ts SOCKET_DIR OPTIONS_JSON
 */

interface Options {
  /** Longest an isolate may go without answering a ping (stuck CPU). */
  cpuLimitMs: number;
  /** Memory cap of each isolate (heap + external), bytes. */
  memoryLimit: number;
  /** Paths a standby isolate may read (artifacts); revoked after load. */
  readPaths: string[];
  /** Longest the top-level code of a deployment may take to load. */
  loadTimeoutMs: number;
}

interface Isolate {
  id: string;
  worker: Worker;
  port: MessagePort;
  lastPong: number;
  loaded: ((r: { ok: boolean; error?: string }) => void) | null;
  dead: boolean;
  /** When outbound activity was last reported to the daemon. */
  activeSent: number;
  /** Reported stuck (a ping unanswered) since its last pong. */
  stuckSent: boolean;
  /** When the oldest ping still unanswered was sent (0: none). */
  pingedAt: number;
  /** When its last pong came (lastPong is also moved when starved). */
  answeredAt: number;
}

/** Outbound activity is reported at most this often per isolate. */
const ACTIVE_EVERY_MS = 100;

const [socketDir, optionsJson] = Deno.args;
if (!socketDir || !optionsJson) {
  throw new TypeError("usage: process_main.ts SOCKET_DIR OPTIONS_JSON");
}
const options = JSON.parse(optionsJson) as Options;
const isolates = new Map<string, Isolate>();
const encoder = new TextEncoder();
const runtimeDir = new URL(".", import.meta.url).pathname;

function emit(event: Record<string, unknown>): void {
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(event) + "\n"));
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });

/** The Unix socket an isolate serves on. */
const socketOf = (id: string) => `${socketDir}/${id}.sock`;

/**
 * Why an isolate stopped, sent as a value beside the sentence (the daemon's
 * StopCause in lib/isolates/worker_process.ts; no import from there).
 */
type Cause = "cpu" | "memory" | "error" | "boot" | "load-timeout" | "stopped";

function kill(iso: Isolate, cause: Cause, reason: string): void {
  if (iso.dead) return;
  iso.dead = true;
  iso.worker.terminate();
  isolates.delete(iso.id);
  iso.loaded?.({ ok: false, error: reason });
  try {
    Deno.removeSync(socketOf(iso.id));
  } catch { /* never bound or gone */ }
  emit({ ev: "exit", id: iso.id, cause, reason });
}

function create(id: string): Promise<void> {
  if (!/^[a-z0-9-]+$/.test(id)) throw new TypeError(`bad isolate id "${id}"`);
  const socket = socketOf(id);
  const worker = new Worker(
    new URL("./isolate_main.ts", import.meta.url),
    {
      type: "module",
      name: id,
      deno: {
        permissions: {
          // read: revoked after load; write: revoked once the socket is bound
          read: [...options.readPaths, runtimeDir, socket],
          write: [socket],
          net: true, // the process's --allow-net minus its --deny-net
          env: false,
          run: false,
          ffi: false,
          import: false,
          sys: false,
        },
      },
    } as WorkerOptions,
  );
  const channel = new MessageChannel();
  const iso: Isolate = {
    id,
    worker,
    port: channel.port1,
    lastPong: Date.now(),
    loaded: null,
    dead: false,
    activeSent: 0,
    stuckSent: false,
    pingedAt: 0,
    answeredAt: 0,
  };
  isolates.set(id, iso);
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  worker.onerror = (e) => {
    e.preventDefault();
    reject(new Error(e.message));
    kill(iso, "error", `uncaught error: ${e.message}`);
  };
  iso.port.onmessage = (e: MessageEvent) => {
    const msg = e.data;
    if (msg.type === "pong") {
      // Only a pong says the isolate is back in its event loop: a log line
      // can be posted from inside a busy loop.
      iso.lastPong = iso.answeredAt = Date.now();
      if (iso.stuckSent) emit({ ev: "unstuck", id });
      iso.stuckSent = false;
      if (msg.mem) {
        const mib = Math.round(options.memoryLimit / 2 ** 20);
        return kill(iso, "memory", `exceeded its memory cap of ${mib} MiB`);
      }
      // Outbound fetches keep an isolate from being stopped as idle.
      if (msg.out && iso.lastPong - iso.activeSent >= ACTIVE_EVERY_MS) {
        iso.activeSent = iso.lastPong;
        emit({ ev: "active", id });
      }
    } else if (msg.type === "standby") resolve();
    else if (msg.type === "failed") {
      reject(new Error(msg.error));
      kill(iso, "boot", `boot failed: ${msg.error}`);
    } else if (msg.type === "log") {
      emit({ ev: "log", id, level: msg.level, msg: msg.msg });
    } else if (msg.type === "loaded") {
      iso.loaded?.(msg);
      iso.loaded = null;
    }
  };
  worker.postMessage(
    { port: channel.port2, socket, memoryCap: options.memoryLimit },
    [channel.port2],
  );
  return promise;
}

async function load(
  iso: Isolate,
  url: string,
  env: Record<string, string>,
  inline: boolean,
): Promise<{ ok: boolean; error?: string }> {
  // A bundle is read here and handed over as text: the isolate imports it
  // from memory with no read permission left (see isolate_main.ts).
  const code = inline ? await Deno.readTextFile(new URL(url)) : undefined;
  const { promise, resolve } = Promise.withResolvers<
    { ok: boolean; error?: string }
  >();
  iso.loaded = resolve;
  iso.lastPong = Date.now();
  iso.port.postMessage({ type: "load", url, env, code });
  const timer = setTimeout(() => {
    if (iso.loaded === resolve) {
      kill(iso, "load-timeout", `load took over ${options.loadTimeoutMs} ms`);
    }
  }, options.loadTimeoutMs);
  return promise.finally(() => clearTimeout(timer));
}

async function control(path: string, req: Request): Promise<Response> {
  const args = await req.json() as {
    id: string;
    url?: string;
    env?: Record<string, string>;
    inline?: boolean;
  };
  const iso = isolates.get(args.id);
  try {
    if (path === "/_mypaas/create") {
      if (iso) return json(409, { error: `isolate ${args.id} exists` });
      await create(args.id);
      return json(200, { ok: true, socket: socketOf(args.id) });
    }
    if (!iso) return json(404, { error: `no isolate ${args.id}` });
    if (path === "/_mypaas/load") {
      const r = await load(
        iso,
        args.url ?? "",
        args.env ?? {},
        args.inline === true,
      );
      return json(r.ok ? 200 : 422, r);
    }
    if (path === "/_mypaas/stop") {
      kill(iso, "stopped", "stopped");
      return json(200, { ok: true });
    }
  } catch (err) {
    return json(500, { error: (err as Error).message });
  }
  return json(404, { error: `no control call ${path}` });
}

// CPU watchdog: an isolate that cannot answer a ping within the budget is
// stuck in synchronous code (a request, a timer or its top-level code);
// terminating the Worker frees its thread and its neighbours' CPU share.
// When this process itself was starved (the tick came late, e.g. the host is
// saturated), nobody is blamed: the pongs may just not have been scheduled.
const tickMs = Math.max(10, Math.min(100, options.cpuLimitMs / 4));
let lastTick = Date.now();
setInterval(() => {
  const now = Date.now();
  const starved = now - lastTick > tickMs * 2 + 50;
  lastTick = now;
  for (const iso of isolates.values()) {
    if (starved) iso.lastPong = Math.max(iso.lastPong, now - tickMs);
    if (now - iso.lastPong > options.cpuLimitMs) {
      kill(iso, "cpu", `exceeded its CPU budget of ${options.cpuLimitMs} ms`);
      continue;
    }
    // A ping a tick old and unanswered: running synchronous code. If the
    // process dies now (a heap bomb that never yields), the daemon knows
    // whose code it was. Told apart by answers, not by this tick's
    // timeliness: a starved process still sees who did not answer.
    const waiting = iso.pingedAt > iso.answeredAt;
    if (!iso.stuckSent && waiting && now - iso.pingedAt >= tickMs) {
      iso.stuckSent = true;
      emit({ ev: "stuck", id: iso.id });
    }
    if (!waiting) iso.pingedAt = now;
    iso.port.postMessage({ type: "ping" });
  }
}, tickMs);

Deno.serve({
  path: `${socketDir}/control.sock`,
  onListen: () => emit({ ev: "ready", pid: Deno.pid }),
}, (req) => {
  const url = new URL(req.url);
  if (url.pathname.startsWith("/_mypaas/") && req.method === "POST") {
    return control(url.pathname, req);
  }
  return json(404, { error: "requests go to the isolates' own sockets" });
});

// The daemon holds our stdin: when it closes, the daemon is gone.
(async () => {
  for await (const _ of Deno.stdin.readable) { /* drain */ }
  Deno.exit(0);
})();
