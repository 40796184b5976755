/**
 * @module
 * The client side of the push protocol: fetches the server time, signs
 * tokens, requests and uploads with the client's private key, and reads a
 * streamed answer line by line up to its marker line.
 */
import { InputError } from "../errors.ts";
import { lines } from "../lines.ts";
import { canonicalRequest, makeToken, type PrivateKey } from "../keys/mod.ts";
import { isHeartbeat, parseMarker } from "./progress_stream.ts";

/** Options of an API client. */
export interface ClientOptions {
  /** `https://host[:port]` or a bare host (https is assumed). */
  server: string;
  key: PrivateKey;
  /** A fetch that trusts the right CAs (Deno.createHttpClient for --ca). */
  fetch?: typeof fetch;
}

/** How a streamed operation ended. */
export interface StreamResult {
  status: "ok" | "failed" | "refused" | "missing";
  detail: string;
}

/** The base URL of a SERVER argument: `https://host[:port]`, no path. */
export function serverBase(server: string): string {
  let s = server.trim();
  if (!s) {
    throw new InputError("SERVER is empty; give a host like paas.example.com");
  }
  if (!/^https?:\/\//i.test(s)) s = `https://${s}`;
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    throw new InputError(`SERVER "${server}" is not a host or https:// URL`);
  }
  const loopback = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(
    url.hostname,
  );
  if (url.protocol !== "https:" && !loopback) {
    throw new InputError(
      `SERVER "${server}" must use https:// (uploads and --env values would travel in clear)`,
    );
  }
  return `${url.protocol}//${url.host}`;
}

/** Talks to one daemon. */
export class ApiClient {
  readonly base: string;
  readonly #fetch: typeof fetch;

  constructor(readonly opts: ClientOptions) {
    this.base = serverBase(opts.server) + "/daemon";
    const inner = opts.fetch ?? fetch;
    const base = this.base;
    this.#fetch =
      (async (input: string | URL | Request, init?: RequestInit) => {
        try {
          return await inner(input, init);
        } catch (err) {
          const cause = (err as Error).cause as Error | undefined;
          throw new Error(
            `Could not reach ${base}: ${
              cause?.message ?? (err as Error).message
            }`,
            { cause: err },
          );
        }
      }) as typeof fetch;
  }

  /** The server's Unix time in seconds. */
  async time(): Promise<number> {
    const r = await this.#fetch(`${this.base}/time`);
    const text = await r.text();
    const t = Number(text.trim());
    if (!r.ok || !Number.isInteger(t)) {
      throw new Error(
        `Could not get the server time from ${this.base}/time: HTTP ${r.status} ${
          text.slice(0, 200)
        }`,
      );
    }
    return t;
  }

  /** A URL carrying id, token and sig1, plus sig2 over `sig2Data` or the canonical request. */
  async signedUrl(
    method: string,
    op: string,
    params: Record<string, string> = {},
    body?: Uint8Array,
  ): Promise<string> {
    const token = makeToken(await this.time());
    const q = new URLSearchParams({
      id: this.opts.key.fingerprint,
      token,
      ...params,
    });
    const url = new URL(`${this.base}/${op}`);
    const data = body ??
      new TextEncoder().encode(canonicalRequest(method, url.pathname, q));
    q.set("sig1", await this.opts.key.sign(new TextEncoder().encode(token)));
    q.set("sig2", await this.opts.key.sign(data));
    return `${url}?${q}`;
  }

  /** A signed request without body. */
  async request(
    method: "GET" | "POST",
    op: string,
    params: Record<string, string> = {},
  ): Promise<Response> {
    const url = await this.signedUrl(method, op, params);
    return await this.#fetch(url, { method });
  }

  /** Uploads a zip; `onUpload(sent, total)` follows the upload. */
  async push(
    zip: Uint8Array,
    onUpload?: (sent: number, total: number) => void,
  ): Promise<Response> {
    const url = await this.signedUrl("POST", "push", {}, zip);
    let sent = 0;
    const CHUNK = 256 * 1024;
    const body = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (sent >= zip.length) {
          ctl.close();
          return;
        }
        const chunk = zip.subarray(sent, sent + CHUNK);
        sent += chunk.length;
        ctl.enqueue(chunk);
        onUpload?.(sent, zip.length);
      },
    });
    return await this.#fetch(url, {
      method: "POST",
      body,
      headers: {
        "content-type": "application/zip",
        "content-length": String(zip.length),
      },
    });
  }
}

/** Reads a text response line by line; returns how its marker line said it ended. */
export async function readStream(
  res: Response,
  onLine: (line: string) => void,
): Promise<StreamResult> {
  let result: StreamResult = {
    status: "missing",
    detail: "the server closed the stream before the end",
  };
  if (!res.body) return result;
  try {
    for await (const line of lines(res.body)) {
      if (isHeartbeat(line)) continue;
      const m = parseMarker(line);
      if (m) result = { status: m.status, detail: m.detail };
      else onLine(line);
    }
  } catch (err) {
    // The connection was cut: the operation may still finish on the server.
    return {
      status: "missing",
      detail: `the connection was cut before the end (${
        (err as Error).message
      }); the operation may still finish: check with "mypaas status"`,
    };
  }
  return result;
}
