/**
 * @module
 * The client of the daemon's control socket (lib/api/control.ts), used by
 * `mypaas server deploy|list|remove|restart|rollback|logs`. HTTP over the
 * Unix socket through `Deno.createHttpClient({ proxy: { transport: "unix" } })`.
 */
import type {
  DeploymentStatus,
  DeployOptions,
  DeployResult,
} from "../daemon/platform.ts";
import { InputError } from "../errors.ts";
import { lines } from "../lines.ts";

/** No daemon answers on the socket. */
export class DaemonNotRunningError extends Error {
  override name = "DaemonNotRunningError";
  constructor(readonly socket: string, options?: ErrorOptions) {
    super(
      `no mypaas daemon is listening on ${socket}: start it with \`mypaas server run\``,
      options,
    );
  }
}

/** Talks to the daemon over its control socket. */
export class ControlClient {
  readonly #client: Deno.HttpClient;

  constructor(readonly socket: string) {
    this.#client = Deno.createHttpClient({
      proxy: { transport: "unix", path: socket },
    });
  }

  close(): void {
    this.#client.close();
  }

  async #fetch(path: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`http://mypaas${path}`, {
        ...init,
        client: this.#client,
      });
    } catch (err) {
      if (init.signal?.aborted) throw err;
      throw new DaemonNotRunningError(this.socket, { cause: err });
    }
    if (res.ok) return res;
    let message = `the daemon answered ${res.status}`;
    try {
      message = ((await res.json()) as { error?: string }).error ?? message;
    } catch {
      // keep the status line
    }
    if (res.status >= 400 && res.status < 500) {
      throw new InputError(message, { status: res.status });
    }
    throw new Error(message);
  }

  #post(path: string, body: unknown, signal?: AbortSignal) {
    return this.#fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      ...(signal ? { signal } : {}),
    });
  }

  /** Deploys a directory on this host; progress lines go to `onLine`. */
  async deploy(
    dir: string,
    options: DeployOptions,
    onLine: (line: string) => void,
  ): Promise<DeployResult> {
    return await readResult(
      await this.#post("/deploy", { dir, options }),
      onLine,
    );
  }

  async rollback(
    service: string,
    release: number | undefined,
    onLine: (line: string) => void,
  ): Promise<DeployResult> {
    return await readResult(
      await this.#post("/rollback", { service, release }),
      onLine,
    );
  }

  async list(): Promise<DeploymentStatus[]> {
    return await (await this.#fetch("/list")).json();
  }

  async remove(service: string): Promise<void> {
    await (await this.#post("/remove", { service })).body?.cancel();
  }

  async restart(service: string): Promise<void> {
    await (await this.#post("/restart", { service })).body?.cancel();
  }

  /** Log lines; with `follow`, until `signal` aborts or the daemon ends it. */
  async logs(
    service: string,
    opts: { follow?: boolean; tail?: number; signal?: AbortSignal },
    onLine: (line: string) => void,
  ): Promise<void> {
    const q = new URLSearchParams({ service });
    if (opts.follow) q.set("follow", "1");
    if (opts.tail !== undefined) q.set("tail", String(opts.tail));
    const res = await this.#fetch(
      `/logs?${q}`,
      opts.signal ? { signal: opts.signal } : {},
    );
    try {
      for await (const line of lines(res.body!)) onLine(line);
    } catch (err) {
      if (!opts.signal?.aborted) throw err;
    }
  }
}

async function readResult(
  res: Response,
  onLine: (line: string) => void,
): Promise<DeployResult> {
  for await (const text of lines(res.body!)) {
    if (!text.trim()) continue;
    const msg = JSON.parse(text) as {
      line?: string;
      result?: DeployResult;
      error?: string;
      status?: number;
    };
    if (msg.line !== undefined) onLine(msg.line);
    else if (msg.result) return msg.result;
    else if (msg.error !== undefined) {
      const status = msg.status ?? 500;
      if (status >= 400 && status < 500) {
        throw new InputError(msg.error, { status });
      }
      throw new Error(msg.error);
    }
  }
  throw new Error("the daemon closed the connection before the result");
}
