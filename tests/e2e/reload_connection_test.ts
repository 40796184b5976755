/**
 * A config reload of `mypaas server run` (SIGHUP, then a plain file write)
 * while a client holds a keep-alive connection through the proxy to a
 * function: a slow streamed response that spans the reload arrives whole,
 * and requests before and after it on the SAME connection succeed. The
 * reloaded `[proxy] max_body` applies to new requests, on fresh connections
 * and on the held one. Loopback only; no Docker.
 */
import { ControlClient } from "../../lib/api/control_client.ts";
import { assert, assertEquals } from "../_docker_contract.ts";
import { DaemonProcess, freePort } from "./_daemon.ts";

const HOST = "reload.fn.test";
const CHUNKS = 40;
const CHUNK_MS = 100;

function configText(dir: string, port: number, maxBody: string): string {
  return `[server]
data_dir = "${dir}/data"
control_socket = "${dir}/ctl.sock"
bind = "127.0.0.1"
http_port = ${port}
https_port = 0
[docker]
socket = "${dir}/no-docker.sock"
[proxy]
max_body = "${maxBody}"
[isolates]
min_workers = 1
max_workers = 2
`;
}

const FUNCTION = `// mypaas.service=reload
// mypaas.url=http://${HOST}
export default {
  async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname === "/len") {
      return new Response(String((await req.arrayBuffer()).byteLength));
    }
    if (url.pathname === "/slow") {
      const n = Number(url.searchParams.get("n"));
      const ms = Number(url.searchParams.get("ms"));
      let i = 0;
      const enc = new TextEncoder();
      return new Response(new ReadableStream({
        async pull(ctl) {
          if (i > 0) await new Promise((r) => setTimeout(r, ms));
          ctl.enqueue(enc.encode("chunk " + i++ + "\\n"));
          if (i === n) ctl.close();
        },
      }));
    }
    return new Response("hello " + url.pathname);
  },
};
`;

/** One client HTTP/1.1 connection, kept alive across requests. */
class Conn {
  readonly #enc = new TextEncoder();
  readonly #dec = new TextDecoder();
  #buf = new Uint8Array(0);

  private constructor(readonly conn: Deno.TcpConn) {}

  static async open(port: number): Promise<Conn> {
    return new Conn(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* closed */ }
  }

  /** Sends one request (keep-alive unless `close`). */
  async send(
    method: string,
    path: string,
    body?: Uint8Array,
    close = false,
  ): Promise<void> {
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${HOST}\r\n`;
    if (close) head += "connection: close\r\n";
    if (body) head += `content-length: ${body.length}\r\n`;
    const h = this.#enc.encode(head + "\r\n");
    const all = new Uint8Array(h.length + (body?.length ?? 0));
    all.set(h);
    if (body) all.set(body, h.length);
    await this.conn.write(all);
  }

  async #fill(): Promise<void> {
    const chunk = new Uint8Array(16384);
    const n = await this.conn.read(chunk);
    if (n === null) throw new Error("the server closed the connection");
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
  }

  #take(n: number): Uint8Array {
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.slice(n);
    return out;
  }

  async #line(): Promise<string> {
    for (;;) {
      const i = this.#buf.indexOf(10);
      if (i >= 0) return this.#dec.decode(this.#take(i + 1)).trimEnd();
      await this.#fill();
    }
  }

  async #bytes(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) await this.#fill();
    return this.#take(n);
  }

  /** Reads a response head: status and lower-cased headers. */
  async head(): Promise<{ status: number; headers: Map<string, string> }> {
    const status = Number((await this.#line()).split(" ")[1]);
    const headers = new Map<string, string>();
    for (let l = await this.#line(); l !== ""; l = await this.#line()) {
      const i = l.indexOf(":");
      headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
    }
    return { status, headers };
  }

  /** One chunk of a chunked body ("" at its end). */
  async chunk(): Promise<string> {
    const size = parseInt((await this.#line()).split(";")[0]!, 16);
    const data = this.#dec.decode(await this.#bytes(size));
    await this.#line();
    if (size === 0) return "";
    return data;
  }

  /** Reads a whole response. */
  async response(): Promise<{ status: number; body: string; close: boolean }> {
    const { status, headers } = await this.head();
    let body = "";
    const len = headers.get("content-length");
    if (len !== undefined) {
      body = this.#dec.decode(await this.#bytes(Number(len)));
    } else if (headers.get("transfer-encoding") === "chunked") {
      for (let c = await this.chunk(); c !== ""; c = await this.chunk()) {
        body += c;
      }
    }
    return { status, body, close: headers.get("connection") === "close" };
  }

  /** A request and its whole response. */
  async request(method: string, path: string, body?: Uint8Array) {
    await this.send(method, path, body);
    return await this.response();
  }
}

/** POSTs `n` bytes to /len on a fresh connection; returns the status. */
async function freshPost(port: number, n: number): Promise<number> {
  const c = await Conn.open(port);
  try {
    await c.send("POST", "/len", new Uint8Array(n), true);
    return (await c.head()).status;
  } finally {
    c.close();
  }
}

/**
 * On a held connection: requests, then a slow stream during which `reload`
 * runs and `reloaded` is awaited (fresh connections see the new config),
 * then more requests; the last POST of `after` bytes gets `afterStatus`.
 */
async function acrossReload(
  port: number,
  steps: {
    before: number;
    reload: () => Promise<void>;
    reloaded: () => Promise<void>;
    after: number;
    afterStatus: number;
  },
): Promise<void> {
  const c = await Conn.open(port);
  try {
    assertEquals(await c.request("GET", "/a"), {
      status: 200,
      body: "hello /a",
      close: false,
    });
    assertEquals(
      await c.request("POST", "/len", new Uint8Array(steps.before)),
      {
        status: 200,
        body: String(steps.before),
        close: false,
      },
    );

    await c.send("GET", `/slow?n=${CHUNKS}&ms=${CHUNK_MS}`);
    const head = await c.head();
    assertEquals(head.status, 200);
    assertEquals(head.headers.get("transfer-encoding"), "chunked");
    let body = await c.chunk();
    await steps.reload();
    await steps.reloaded();
    const seenAt = Date.now();
    let chunksAfter = 0;
    for (let ch = await c.chunk(); ch !== ""; ch = await c.chunk()) {
      body += ch;
      chunksAfter++;
    }
    const want = Array.from({ length: CHUNKS }, (_, i) => `chunk ${i}\n`);
    assertEquals(body, want.join(""));
    assert(
      chunksAfter > 0,
      `the stream ended before the reload was seen (${Date.now() - seenAt}ms)`,
    );

    assertEquals(await c.request("GET", "/b"), {
      status: 200,
      body: "hello /b",
      close: false,
    });
    const last = await c.request("POST", "/len", new Uint8Array(steps.after));
    assertEquals(last.status, steps.afterStatus);
  } finally {
    c.close();
  }
}

Deno.test("e2e: a config reload (SIGHUP, file write) keeps a held keep-alive connection and a streaming response; the new max_body applies", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-reload-conn-" });
  const app = await Deno.makeTempDir({ prefix: "mypaas-reload-fn-" });
  await Deno.writeTextFile(`${app}/main.ts`, FUNCTION);
  const port = freePort();
  const file = `${dir}/config.toml`;
  await Deno.writeTextFile(file, configText(dir, port, "1M"));
  const daemon = new DaemonProcess(file);
  const child = daemon.start();
  const client = new ControlClient(`${dir}/ctl.sock`);
  const until = (what: string, check: () => Promise<boolean>) =>
    daemon.waitFor(what, check, { timeoutMs: 20_000, intervalMs: 50 });
  try {
    await until("the daemon", async () => {
      await client.list();
      return true;
    });
    const lines: string[] = [];
    const r = await client.deploy(app, {}, (l) => lines.push(l));
    assert(r.ok, `${r.error}\n${lines.join("\n")}\n${daemon.output}`);
    assertEquals(await freshPost(port, 2000), 200);

    // SIGHUP: max_body 1M -> 1K while the connection and a stream are open
    await acrossReload(port, {
      before: 2000,
      reload: async () => {
        await Deno.writeTextFile(`${file}.new`, configText(dir, port, "1K"));
        await Deno.rename(`${file}.new`, file);
        child.kill("SIGHUP");
      },
      reloaded: () =>
        until(
          "413 after SIGHUP",
          async () => (await freshPost(port, 2000)) === 413,
        ),
      after: 2000,
      afterStatus: 413,
    });

    // A plain file write, no signal: 1K -> 1M
    await acrossReload(port, {
      before: 1000,
      reload: () => Deno.writeTextFile(file, configText(dir, port, "1M")),
      reloaded: () =>
        until(
          "200 after the file write",
          async () => (await freshPost(port, 2000)) === 200,
        ),
      after: 2000,
      afterStatus: 200,
    });
    assert(daemon.output.includes("config reloaded"), daemon.output);
  } finally {
    client.close();
    await daemon.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(app, { recursive: true }).catch(() => {});
  }
});
