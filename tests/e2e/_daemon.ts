/**
 * The daemon as a real process for e2e tests: `deno run -A main.ts server
 * run --config FILE`, its stderr collected, a poll until it answers, and a
 * SIGTERM (then a wait for the exit) on stop or dispose.
 */
import { DENO_DIR, ROOT } from "../_run_main.ts";
import { PrivateKey } from "../../lib/keys/mod.ts";
import { until } from "../_until.ts";

/** A free loopback TCP port (bound to port 0, then released). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** One `server run` process at a time for one config file; restartable. */
export class DaemonProcess implements AsyncDisposable {
  /** Every stderr chunk of every process started, in order. */
  readonly logs: string[] = [];
  #child: Deno.ChildProcess | null = null;

  /** `env` is added to the daemon's own environment (DENO_DIR is set). */
  constructor(
    readonly configFile: string,
    readonly env: Record<string, string> = {},
  ) {}

  /** The stderr of all runs so far, as one string. */
  get output(): string {
    return this.logs.join("");
  }

  /** The running (or last) process; throws before start(). */
  get child(): Deno.ChildProcess {
    if (!this.#child) throw new Error("DaemonProcess: call start() first");
    return this.#child;
  }

  /** Spawns `main.ts server run --config FILE`; does not wait for it. */
  start(): Deno.ChildProcess {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "main.ts",
        "server",
        "run",
        "--config",
        this.configFile,
      ],
      cwd: ROOT,
      env: { ...this.env, DENO_DIR },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    (async () => {
      const dec = new TextDecoder();
      for await (const chunk of child.stderr) this.logs.push(dec.decode(chunk));
    })().catch(() => {});
    return child;
  }

  /**
   * Polls `check` (a throw counts as "not yet") every `intervalMs` until it
   * is true; after `timeoutMs` throws naming `what`, the last error and the
   * daemon's stderr.
   */
  async waitFor(
    what: string,
    check: () => Promise<boolean>,
    { timeoutMs = 60_000, intervalMs = 100 } = {},
  ): Promise<void> {
    await until(check, {
      what,
      timeoutMs,
      intervalMs,
      detail: () => this.output,
    });
  }

  /** Sends `signal` to the running process (a no-op once it is gone). */
  kill(signal: Deno.Signal): void {
    try {
      this.#child?.kill(signal);
    } catch { /* already gone */ }
  }

  /** SIGTERM and wait for the exit; nothing if never started. */
  async stop(): Promise<void> {
    if (!this.#child) return;
    this.kill("SIGTERM");
    await this.#child.status;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/** A daemon's temp dir, port and one authorised key, config written. */
export interface SignedDaemonDir {
  dir: string;
  port: number;
  key: PrivateKey;
  config: string;
}

/**
 * Makes a temp dir with a data dir whose authorized_keys holds a fresh key,
 * and a config.toml: loopback HTTP on a free port, no HTTPS, no Docker
 * engine, then `extra` TOML (an `[isolates]` section and the like).
 */
export async function signedDaemonDir(
  prefix: string,
  extra: string,
): Promise<SignedDaemonDir> {
  const dir = await Deno.makeTempDir({ prefix });
  const port = freePort();
  const key = await PrivateKey.generate();
  await Deno.mkdir(`${dir}/data`);
  await Deno.writeTextFile(
    `${dir}/data/authorized_keys`,
    `${key.publicKey.text} test\n`,
  );
  const config = `${dir}/config.toml`;
  await Deno.writeTextFile(
    config,
    `[server]
domain = "127.0.0.1"
data_dir = "${dir}/data"
control_socket = "${dir}/ctl.sock"
bind = "127.0.0.1"
http_port = ${port}
https_port = 0
[docker]
socket = "${dir}/no-docker.sock"
${extra}`,
  );
  return { dir, port, key, config };
}
