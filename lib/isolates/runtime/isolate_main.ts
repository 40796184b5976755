/**
 * @module
 * Runs inside one isolate (a Deno Worker of a worker process). Boots with no
 * user code (`standby`); a `load` message imports one deployment's artifact
 * and makes the isolate `active`. The user's handler comes from
 * `export default { fetch }` or from a `Deno.serve(handler)` call, which is
 * shimmed here so such code runs unchanged. Imports nothing of the daemon.
 *
 * Protocol: the host's first message carries a private MessagePort; every
 * later exchange uses that port, so user code touching `self.onmessage` or
 * `postMessage` cannot speak for the runtime.
 */

type Handler = (req: Request, info: unknown) => Response | Promise<Response>;

interface LoadMsg {
  type: "load";
  url: string;
  env: Record<string, string>;
}
interface RequestMsg {
  type: "request";
  method: string;
  url: string;
  headers: [string, string][];
  body: ReadableStream<Uint8Array> | null;
  remoteAddr: string;
  reply: MessagePort;
}
interface PingMsg {
  type: "ping";
}
type InMsg = LoadMsg | RequestMsg | PingMsg;

let port: MessagePort | null = null;
let handler: Handler | null = null;

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
    const mod = await import(msg.url);
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

async function serveOne(msg: RequestMsg): Promise<void> {
  const reply = msg.reply;
  try {
    if (!handler) throw new Error("no code loaded");
    const init: RequestInit = { method: msg.method, headers: msg.headers };
    if (msg.body) init.body = msg.body;
    const req = new Request(msg.url, init);
    const res = await handler(req, {
      remoteAddr: { transport: "tcp", hostname: msg.remoteAddr, port: 0 },
    });
    const body = res.body;
    reply.postMessage(
      {
        status: res.status,
        headers: [...res.headers],
        body,
      },
      body ? [body] : [],
    );
  } catch (err) {
    fakeConsole.error("handler failed:", err);
    reply.postMessage({ status: 500, headers: [], body: null, failed: true });
  } finally {
    reply.close();
  }
}

function onPortMessage(e: MessageEvent<InMsg>): void {
  const msg = e.data;
  if (msg.type === "ping") post({ type: "pong" });
  else if (msg.type === "load") void load(msg);
  else if (msg.type === "request") void serveOne(msg);
}

const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent) => void) | null;
};
scope.onmessage = (e: MessageEvent) => {
  if (port || !(e.data?.port instanceof MessagePort)) return;
  port = e.data.port as MessagePort;
  port.onmessage = onPortMessage;
  scope.onmessage = null;
  post({ type: "standby" });
};
