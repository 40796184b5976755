/**
 * @module
 * Runs inside one isolate (a Deno Worker of a worker process). Boots with no
 * user code (`standby`); a `load` message imports one deployment's artifact
 * and makes the isolate `active`. The user's handler comes from
 * `export default { fetch }` or from a `Deno.serve(handler)` call, which is
 * shimmed here so such code runs unchanged. Imports nothing of the daemon.
 *
 * Requests arrive as HTTP on the isolate's own Unix socket (the daemon
 * connects to it directly; the worker process is not on the request path),
 * with the client's URL as the request target and X-Forwarded-* headers.
 * The runtime listens before any user code runs, then gives up its write
 * permission. Control (load, ping) comes from the host over a private
 * MessagePort sent in the first message, so user code touching
 * `self.onmessage` or `postMessage` cannot speak for the runtime.
 */

import { installNetGuard } from "./net_guard.ts";
import { trackOutbound } from "./outbound.ts";

type Handler = (req: Request, info: unknown) => Response | Promise<Response>;

interface LoadMsg {
  type: "load";
  url: string;
  env: Record<string, string>;
  /** The bundle's text, when the artifact is self-contained. */
  code?: string;
}
interface PingMsg {
  type: "ping";
}
type InMsg = LoadMsg | PingMsg;

let port: MessagePort | null = null;
let handler: Handler | null = null;
/** Whether outbound fetches moved since the last pong (none before load). */
let outboundMoved = () => false;
/** This isolate's memory cap (heap + external bytes), from the host. */
let memoryCap = Infinity;
// A full GC on demand (V8 flag --expose-gc-as): garbage is not "over".
const collect = (globalThis as Record<string, unknown>).__mypaas_gc as
  | (() => void)
  | undefined;

/** Bytes in use when over the cap after a full GC, else 0. */
function memoryOver(): number {
  let m = Deno.memoryUsage();
  if (m.heapUsed + m.external <= memoryCap) return 0;
  collect?.();
  m = Deno.memoryUsage();
  return m.heapUsed + m.external > memoryCap ? m.heapUsed + m.external : 0;
}

function post(msg: unknown, transfer: Transferable[] = []): void {
  port?.postMessage(msg, transfer);
}

function format(args: unknown[]): string {
  return args.map((a) => {
    if (typeof a === "string") return a;
    if (a instanceof Error) return a.stack ?? String(a);
    try {
      return JSON.stringify(a);
    } catch {
      return String(a);
    }
  }).join(" ");
}

// Console output goes to the host as log messages, never to the worker
// process's stdout (which is the daemon's event channel).
const sink = (level: string) => (...args: unknown[]) =>
  post({ type: "log", level, msg: format(args) });
const fakeConsole = {
  log: sink("info"),
  info: sink("info"),
  debug: sink("debug"),
  warn: sink("warn"),
  error: sink("error"),
  trace: sink("debug"),
};
Object.assign(globalThis.console, fakeConsole);

function shimDeno(env: Record<string, string>): void {
  installNetGuard();
  outboundMoved = trackOutbound();
  // A nested Worker would run on a thread the CPU watchdog does not see.
  Object.defineProperty(globalThis, "Worker", {
    value: class {
      constructor() {
        throw new Deno.errors.NotCapable(
          "Requires worker access: functions cannot start Workers",
        );
      }
    },
    configurable: false,
    writable: false,
  });
  const vars = new Map(Object.entries(env));
  Object.defineProperty(Deno, "env", {
    value: Object.freeze({
      get: (k: string) => vars.get(k),
      has: (k: string) => vars.has(k),
      set: (k: string, v: string) => void vars.set(k, v),
      delete: (k: string) => void vars.delete(k),
      toObject: () => Object.fromEntries(vars),
    }),
    configurable: false,
    writable: false,
  });
  const serve = (a: unknown, b?: unknown) => {
    const h = typeof a === "function"
      ? a
      : typeof b === "function"
      ? b
      : (a as { handler?: unknown })?.handler;
    if (typeof h !== "function") {
      throw new TypeError("Deno.serve() needs a handler function");
    }
    handler = h as Handler;
    const finished = new Promise<void>(() => {});
    return {
      finished,
      addr: { transport: "tcp", hostname: "0.0.0.0", port: 80 },
      ref() {},
      unref() {},
      shutdown: () => Promise.resolve(),
      [Symbol.asyncDispose]: () => Promise.resolve(),
    };
  };
  Object.defineProperty(Deno, "serve", {
    value: serve,
    configurable: false,
    writable: false,
  });
}

async function load(msg: LoadMsg): Promise<void> {
  try {
    shimDeno(msg.env);
    let url = msg.url;
    if (msg.code !== undefined) {
      // Top-level code runs with no read permission at all: it cannot read
      // another function's manifest or bundle, nor this one's on disk.
      await Deno.permissions.revoke({ name: "read" });
      url = URL.createObjectURL(
        new Blob([msg.code], { type: "text/javascript" }),
      );
    }
    const mod = await import(url);
    if (msg.code !== undefined) URL.revokeObjectURL(url);
    const fetchFn = mod?.default?.fetch;
    if (typeof fetchFn === "function") {
      handler = (req, info) => fetchFn.call(mod.default, req, info);
    }
    if (!handler) {
      throw new Error(
        "the entry point neither exports default { fetch } nor calls Deno.serve()",
      );
    }
    // From here on user code reads no file at all: its code is loaded.
    await Deno.permissions.revoke({ name: "read" });
    post({ type: "loaded", ok: true });
  } catch (err) {
    post({
      type: "loaded",
      ok: false,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}

const serveReal = Deno.serve;

/**
 * What a handler gets as its second argument. The daemon sends the client's
 * URL as the request target (absolute form), so `req.url` is already right,
 * and appends the client's address to X-Forwarded-For last (as for
 * containers): `remoteAddr` is read from there, and only when asked for.
 */
class ServeInfo {
  #req: Request;
  constructor(req: Request) {
    this.#req = req;
  }
  get remoteAddr(): Deno.NetAddr {
    const xff = this.#req.headers.get("x-forwarded-for") ?? "";
    const hostname = xff.slice(xff.lastIndexOf(",") + 1).trim();
    return { transport: "tcp", hostname, port: 0 };
  }
}

function failed(err: unknown): Response {
  fakeConsole.error("handler failed:", err);
  return new Response("function failed\n", { status: 500 });
}

function checked(res: unknown): Response {
  if (res instanceof Response) return res;
  return failed(new TypeError("the handler did not return a Response"));
}

/**
 * Serves one request: the handler gets the served Request itself. Copying
 * it (to rewrite its URL or drop headers) cost half of this isolate's CPU
 * per request (measured with bench/isolates_bench.ts).
 */
function serveOne(req: Request): Response | Promise<Response> {
  if (!handler) return new Response("no code loaded\n", { status: 503 });
  try {
    const res = handler(req, new ServeInfo(req));
    return res instanceof Response
      ? res
      : Promise.resolve(res).then(checked, failed);
  } catch (err) {
    return failed(err);
  }
}

async function listen(path: string): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  serveReal({ path, onListen: () => resolve() }, serveOne);
  await promise;
  // The socket is bound: nothing in this isolate writes to disk again.
  await Deno.permissions.revoke({ name: "write" });
}

const PONG = { type: "pong" };
// Outbound traffic since the last ping: the host reports it as activity.
const OUT_PONG = { type: "pong", out: true };

/** A pong; it carries the memory in use when over the cap (the host stops us). */
function pong(): void {
  const mem = memoryOver();
  if (mem) post({ type: "pong", mem });
  else post(outboundMoved() ? OUT_PONG : PONG);
}

function onPortMessage(e: MessageEvent<InMsg>): void {
  const msg = e.data;
  if (msg.type === "ping") pong();
  else if (msg.type === "load") void load(msg);
}

const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent) => void) | null;
};
scope.onmessage = async (e: MessageEvent) => {
  if (port || !(e.data?.port instanceof MessagePort)) return;
  port = e.data.port as MessagePort;
  if (typeof e.data.memoryCap === "number") memoryCap = e.data.memoryCap;
  port.onmessage = onPortMessage;
  scope.onmessage = null;
  try {
    await listen(String(e.data.socket));
    post({ type: "standby" });
  } catch (err) {
    post({ type: "failed", error: String(err) });
  }
};
