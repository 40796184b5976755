/**
 * @module
 * The daemon's local front door: an HTTP API (Hono) over the Unix socket
 * `[server] control_socket` (mode 0600, so only its owner may deploy).
 * `mypaas server deploy|list|remove|restart|rollback|logs` are its clients
 * (lib/api/control_client.ts).
 *
 * Long operations answer with NDJSON: `{"line": "..."}` per progress line,
 * then one `{"result": DeployResult}` or `{"error": "...", "status": N}`.
 * Other errors answer `{"error": "..."}` with 4xx for bad input, 5xx else;
 * the socket is local and owner-only, so messages are passed on.
 */
import { Hono } from "hono";
import type {
  DeployOptions,
  DeployResult,
  Platform,
} from "../daemon/platform.ts";
import { InputError, isInputError } from "../errors.ts";
import type { Logger } from "../log.ts";

/** The control API over a Platform (no socket: test with `app.request()`). */
export function createControlApp(platform: Platform, log?: Logger): Hono {
  const app = new Hono();
  app.onError((err, c) => {
    const status = isInputError(err) ? err.status : 500;
    if (status >= 500) log?.error(`control: ${err.message}`);
    return c.json({ error: err.message }, status as 400);
  });
  app.get("/ping", (c) => c.json({ ok: true }));
  app.post("/deploy", async (c) => {
    const body = await jsonBody(c.req.raw);
    const dir = body.dir;
    if (typeof dir !== "string" || !dir.startsWith("/")) {
      throw new InputError(
        `deploy needs an absolute "dir", got ${JSON.stringify(dir)}`,
      );
    }
    const options = (body.options ?? {}) as DeployOptions;
    return ndjson((line) =>
      platform.deploy(dir, { ...options, actor: "local" }, line)
    );
  });
  app.post("/rollback", async (c) => {
    const body = await jsonBody(c.req.raw);
    const service = serviceOf(body);
    const release = body.release;
    if (
      release !== undefined &&
      !(Number.isInteger(release) && (release as number) > 0)
    ) {
      throw new InputError(
        `release must be a positive whole number, got ${
          JSON.stringify(release)
        }`,
      );
    }
    return ndjson((line) =>
      platform.rollback(service, release as number | undefined, line, "local")
    );
  });
  app.get("/list", async (c) => c.json(await platform.list()));
  app.post("/remove", async (c) => {
    await platform.remove(serviceOf(await jsonBody(c.req.raw)), "local");
    return c.json({ ok: true });
  });
  app.post("/restart", async (c) => {
    await platform.restart(serviceOf(await jsonBody(c.req.raw)), "local");
    return c.json({ ok: true });
  });
  app.get("/logs", async (c) => {
    const service = c.req.query("service") ?? "";
    if (!service) throw new InputError("logs needs ?service=NAME");
    const follow = c.req.query("follow") === "1";
    const tailText = c.req.query("tail");
    const tail = tailText ? Number(tailText) : undefined;
    // ended by the body's cancel() when the client goes away (the request
    // signal is no use here: Deno aborts it once the response is sent)
    const ctl = new AbortController();
    const it = platform.logs(service, {
      follow,
      signal: ctl.signal,
      ...(tail !== undefined && Number.isInteger(tail) ? { tail } : {}),
    })[Symbol.asyncIterator]();
    // wait briefly for the first line so that "no such service" is a 404,
    // not a stream; a quiet container still gets its headers at once
    let pending: Promise<IteratorResult<string>> | null = it.next();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const first = await Promise.race([
      pending,
      new Promise<null>((r) => timer = setTimeout(() => r(null), 300)),
    ]);
    clearTimeout(timer);
    if (first) pending = null;
    const enc = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(ctrl) {
        if (first?.done) ctrl.close();
        else if (first) ctrl.enqueue(enc.encode(first.value + "\n"));
      },
      async pull(ctrl) {
        if (first?.done) return;
        const n = await (pending ?? it.next());
        pending = null;
        if (n.done) ctrl.close();
        else ctrl.enqueue(enc.encode(n.value + "\n"));
      },
      cancel() {
        ctl.abort();
        it.return?.();
      },
    });
    return new Response(body, {
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  });
  return app;
}

async function jsonBody(req: Request): Promise<Record<string, unknown>> {
  try {
    const v = await req.json();
    if (v && typeof v === "object" && !Array.isArray(v)) return v;
  } catch {
    // fall through
  }
  throw new InputError("the request body must be a JSON object");
}

function serviceOf(body: Record<string, unknown>): string {
  const s = body.service;
  if (typeof s !== "string" || !s) {
    throw new InputError(`a "service" name is needed`);
  }
  return s;
}

/** Streams progress lines, then the result or the error, as NDJSON. */
function ndjson(
  run: (line: (text: string) => void) => Promise<DeployResult>,
): Response {
  const enc = new TextEncoder();
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const w = writable.getWriter();
  const send = (v: unknown) => {
    w.write(enc.encode(JSON.stringify(v) + "\n")).catch(() => {});
  };
  (async () => {
    try {
      const result = await run((line) => send({ line }));
      send({ result });
    } catch (err) {
      send({
        error: (err as Error).message,
        status: isInputError(err) ? err.status : 500,
      });
    } finally {
      await w.close().catch(() => {});
    }
  })();
  return new Response(readable, {
    headers: { "content-type": "application/x-ndjson" },
  });
}

/** The control socket as a daemon Part. */
export class ControlServer {
  readonly name = "control-socket";
  #server: Deno.HttpServer | null = null;

  constructor(
    readonly path: string,
    readonly platform: Platform,
    readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await clearStaleSocket(this.path);
    const dir = this.path.slice(0, this.path.lastIndexOf("/")) || "/";
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const app = createControlApp(this.platform, this.log);
    const listening = Promise.withResolvers<void>();
    this.#server = Deno.serve({
      path: this.path,
      onListen: () => listening.resolve(),
      onError: (err) => {
        this.log.error(`control: ${(err as Error).message}`);
        return new Response("internal error", { status: 500 });
      },
    }, app.fetch);
    await listening.promise;
    await Deno.chmod(this.path, 0o600);
    this.log.info(`control socket on ${this.path}`);
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = null;
    if (!s) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      s.shutdown(),
      new Promise((r) => timer = setTimeout(r, 3000)),
    ]);
    clearTimeout(timer);
    await Deno.remove(this.path).catch(() => {});
  }
}

/** Removes a socket file nobody listens on; refuses when a daemon answers. */
async function clearStaleSocket(path: string): Promise<void> {
  try {
    await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
  } catch {
    await Deno.remove(path);
    return;
  }
  throw new Error(
    `another mypaas daemon listens on ${path}: stop it first, or set [server] control_socket`,
  );
}
