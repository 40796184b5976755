/**
 * @module
 * The main module of one isolate-worker process (`deno run` with narrowed
 * flags, spawned by lib/isolates/worker_process.ts). Hosts isolates as Deno
 * Workers with narrowed permissions and serves HTTP on a Unix socket:
 * `/_mypaas/{create,load,stop}` for the daemon's control calls, and any other
 * request (tagged `x-mypaas-isolate`) forwarded to that isolate, bodies
 * streamed both ways. Isolate console output and exits go to stdout as JSON
 * lines. Exits when stdin closes (the daemon went away). Imports nothing of
 * the daemon.
 *
 * Usage: process_main.ts SOCKET_PATH OPTIONS_JSON
 */

interface Options {
  /** Longest a busy isolate may go without answering a ping. */
  cpuLimitMs: number;
  /** Paths a standby isolate may read (artifacts); revoked after load. */
  readPaths: string[];
  /** Longest the top-level code of a deployment may take to load. */
  loadTimeoutMs: number;
}

interface Isolate {
  id: string;
  worker: Worker;
  port: MessagePort;
  inflight: Set<(res: Response) => void>;
  lastPong: number;
  loaded: ((r: { ok: boolean; error?: string }) => void) | null;
  dead: boolean;
}

const [socketPath, optionsJson] = Deno.args;
if (!socketPath || !optionsJson) {
  throw new TypeError("usage: process_main.ts SOCKET_PATH OPTIONS_JSON");
}
const options = JSON.parse(optionsJson) as Options;
const isolates = new Map<string, Isolate>();
const encoder = new TextEncoder();

function emit(event: Record<string, unknown>): void {
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(event) + "\n"));
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });

function kill(iso: Isolate, reason: string, status: number): void {
  if (iso.dead) return;
  iso.dead = true;
  iso.worker.terminate();
  isolates.delete(iso.id);
  for (const respond of iso.inflight) {
    respond(new Response(`isolate stopped: ${reason}\n`, { status }));
  }
  iso.inflight.clear();
  iso.loaded?.({ ok: false, error: reason });
  emit({ ev: "exit", id: iso.id, reason });
}

function create(id: string): Promise<void> {
  const worker = new Worker(
    new URL("./isolate_main.ts", import.meta.url),
    {
      type: "module",
      name: id,
      deno: {
        permissions: {
          read: [...options.readPaths, new URL(".", import.meta.url).pathname],
          net: true, // the process's --allow-net minus its --deny-net
          env: false,
          run: false,
          ffi: false,
          write: false,
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
    inflight: new Set(),
    lastPong: Date.now(),
    loaded: null,
    dead: false,
  };
  isolates.set(id, iso);
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  worker.onerror = (e) => {
    e.preventDefault();
    reject(new Error(e.message));
    kill(iso, `uncaught error: ${e.message}`, 502);
  };
  iso.port.onmessage = (e: MessageEvent) => {
    const msg = e.data;
    iso.lastPong = Date.now();
    if (msg.type === "standby") resolve();
    else if (msg.type === "log") {
      emit({ ev: "log", id, level: msg.level, msg: msg.msg });
    } else if (msg.type === "loaded") {
      iso.loaded?.(msg);
      iso.loaded = null;
    }
  };
  worker.postMessage({ port: channel.port2 }, [channel.port2]);
  return promise;
}

function load(
  iso: Isolate,
  url: string,
  env: Record<string, string>,
): Promise<{ ok: boolean; error?: string }> {
  const { promise, resolve } = Promise.withResolvers<
    { ok: boolean; error?: string }
  >();
  iso.loaded = resolve;
  iso.lastPong = Date.now();
  iso.port.postMessage({ type: "load", url, env });
  const timer = setTimeout(() => {
    if (iso.loaded === resolve) {
      kill(iso, `load took over ${options.loadTimeoutMs} ms`, 502);
    }
  }, options.loadTimeoutMs);
  return promise.finally(() => clearTimeout(timer));
}

function forward(iso: Isolate, req: Request, url: string): Promise<Response> {
  const { promise, resolve } = Promise.withResolvers<Response>();
  const respond = (res: Response) => {
    iso.inflight.delete(respond);
    resolve(res);
  };
  iso.inflight.add(respond);
  const reply = new MessageChannel();
  reply.port1.onmessage = (e: MessageEvent) => {
    reply.port1.close();
    const { status, headers, body, failed } = e.data;
    if (failed) iso.port.postMessage({ type: "ping" });
    respond(new Response(body, { status, headers }));
  };
  const body = req.body;
  const headers = [...req.headers].filter(([k]) => !k.startsWith("x-mypaas-"));
  const transfer: Transferable[] = [reply.port2];
  if (body) transfer.push(body);
  iso.lastPong = Date.now();
  iso.port.postMessage({
    type: "request",
    method: req.method,
    url,
    headers,
    body,
    remoteAddr: req.headers.get("x-mypaas-remote-addr") ?? "",
    reply: reply.port2,
  }, transfer);
  return promise;
}

async function control(path: string, req: Request): Promise<Response> {
  const args = await req.json() as {
    id: string;
    url?: string;
    env?: Record<string, string>;
  };
  const iso = isolates.get(args.id);
  try {
    if (path === "/_mypaas/create") {
      if (iso) return json(409, { error: `isolate ${args.id} exists` });
      await create(args.id);
      return json(200, { ok: true });
    }
    if (!iso) return json(404, { error: `no isolate ${args.id}` });
    if (path === "/_mypaas/load") {
      const r = await load(iso, args.url ?? "", args.env ?? {});
      return json(r.ok ? 200 : 422, r);
    }
    if (path === "/_mypaas/stop") {
      kill(iso, "stopped", 503);
      return json(200, { ok: true });
    }
  } catch (err) {
    return json(500, { error: (err as Error).message });
  }
  return json(404, { error: `no control call ${path}` });
}

// CPU watchdog: a busy isolate that cannot answer a ping within the budget
// is stuck in synchronous code; terminating the Worker frees its thread.
setInterval(() => {
  const now = Date.now();
  for (const iso of isolates.values()) {
    const busy = iso.inflight.size > 0 || iso.loaded !== null;
    if (!busy) continue;
    if (now - iso.lastPong > options.cpuLimitMs) {
      kill(iso, `exceeded its CPU budget of ${options.cpuLimitMs} ms`, 500);
    } else iso.port.postMessage({ type: "ping" });
  }
}, Math.max(10, Math.min(100, options.cpuLimitMs / 4)));

Deno.serve({
  path: socketPath,
  onListen: () => emit({ ev: "ready", pid: Deno.pid }),
}, (req) => {
  const url = new URL(req.url);
  if (url.pathname.startsWith("/_mypaas/") && req.method === "POST") {
    return control(url.pathname, req);
  }
  const id = req.headers.get("x-mypaas-isolate") ?? "";
  const iso = isolates.get(id);
  if (!iso) return new Response(`no isolate ${id}\n`, { status: 502 });
  const target = req.headers.get("x-mypaas-url") ?? req.url;
  return forward(iso, req, target);
});

// The daemon holds our stdin: when it closes, the daemon is gone.
(async () => {
  for await (const _ of Deno.stdin.readable) { /* drain */ }
  Deno.exit(0);
})();
