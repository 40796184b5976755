/**
 * @module
 * Connection timeouts Deno.serve does not have: a client must send a
 * complete request head within `headerTimeout` of connecting (slowloris, a
 * stalled TLS handshake), and a keep-alive connection with no request in
 * flight, no new request and no bytes sent to it for `keepaliveTimeout` is
 * closed (nginx's client_header_timeout and keepalive_timeout).
 *
 * Deno.serve hides its connections, and serving each accepted connection
 * ourselves (Deno's internal serveHttpOnConnection) closes WebSockets as
 * soon as the HTTP exchange ends. So the guard watches from the side: the
 * request handler records, per peer address, requests in flight and when the
 * last one started; a sweep reads the listeners' established TCP connections
 * from the kernel (`ss -tin`, with each one's last send) and closes
 * offenders with `ss -K` (SOCK_DESTROY: needs CAP_NET_ADMIN and a kernel
 * with INET_DIAG_DESTROY; the daemon runs as root). Upgraded connections
 * (WebSocket) are left to their application. When `ss` is missing or cannot
 * close sockets, the guard says so once and stays out of the way.
 */
import { type Logger, silentLogger } from "../log.ts";

/** Timeouts of the guard, milliseconds. */
export interface ConnGuardTimeouts {
  headerTimeout: number;
  keepaliveTimeout: number;
}

/** What the guard knows of one client connection. */
export interface ConnEntry {
  /** Requests whose handler has not finished. */
  pending: number;
  /** When the latest request started (0: none yet). */
  lastStart: number;
  /** When a sweep first saw the connection (0: not yet). */
  firstSeen: number;
  /** Switched protocols (101): no longer HTTP, left alone. */
  upgraded: boolean;
}

/** One established connection as `ss -tinHO` lists it. */
export interface SsConn {
  localPort: number;
  /** Peer as ss prints it (`1.2.3.4:5`, `[::1]:5`). */
  peer: string;
  /** Peer normalised like the guard's keys (`1.2.3.4:5`, `::1:5`). */
  key: string;
  /** Milliseconds since data was last sent to the peer. */
  lastSendMs: number;
}

/** Runs `ss` with `args`; returns stdout, or throws when it fails. */
export type SsRunner = (args: string[]) => Promise<string>;

/** Runs the system's ss. */
export const runSs: SsRunner = async (args) => {
  const out = await new Deno.Command("ss", {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(new TextDecoder().decode(out.stderr).trim() || "ss failed");
  }
  return new TextDecoder().decode(out.stdout);
};

/** `::ffff:1.2.3.4` and `[::1]` as the plain address. */
function normaliseHost(host: string): string {
  let h = host.startsWith("[") ? host.slice(1, -1) : host;
  if (h.startsWith("::ffff:") && h.includes(".")) h = h.slice(7);
  const zone = h.indexOf("%");
  return zone < 0 ? h : h.slice(0, zone);
}

/** The guard's key for a peer address and the local port it reached. */
export function connKey(host: string, port: number, localPort: number) {
  return `${localPort}/${normaliseHost(host)}:${port}`;
}

/** Splits `addr:port` / `[v6]:port` into host and port. */
function splitAddr(s: string): [string, number] {
  const i = s.lastIndexOf(":");
  return [s.slice(0, i), Number(s.slice(i + 1))];
}

/** Parses `ss -tinHO state established` output. */
export function parseSs(text: string): SsConn[] {
  const conns: SsConn[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    // Recv-Q Send-Q Local:Port Peer:Port [info...]
    if (f.length < 4 || !/^\d+$/.test(f[0]!)) continue;
    const [, localPort] = splitAddr(f[2]!);
    const [peerHost, peerPort] = splitAddr(f[3]!);
    // ss prints lastsnd only when it is not 0 (`if (s->lastsnd)` in
    // iproute2's tcp_show_info): a missing one means data was just sent.
    const snd = /(?:^|\s)lastsnd:(\d+)/.exec(line);
    conns.push({
      localPort,
      peer: f[3]!,
      key: connKey(peerHost, peerPort, localPort),
      lastSendMs: snd ? Number(snd[1]) : 0,
    });
  }
  return conns;
}

/** Why a connection is closed. */
export type CloseReason = "header" | "keepalive";

/** Watches the listeners' connections; see the module doc. */
export class ConnGuard {
  readonly #entries = new Map<string, ConnEntry>();
  #timeouts: ConnGuardTimeouts;
  readonly #ports: () => number[];
  readonly #log: Logger;
  readonly #ss: SsRunner;
  #timer: ReturnType<typeof setInterval> | undefined;
  #sweeping = false;
  #disabled = false;
  /** Keys closed by the last sweep, to notice a kernel that did not. */
  #lastClosed = new Set<string>();
  /** Connections closed so far, by reason. */
  readonly closed = { header: 0, keepalive: 0 };

  constructor(opts: {
    timeouts: ConnGuardTimeouts;
    /** The local ports of the listeners to watch. */
    ports: () => number[];
    log?: Logger;
    ss?: SsRunner;
  }) {
    this.#timeouts = opts.timeouts;
    this.#ports = opts.ports;
    this.#log = opts.log ?? silentLogger;
    this.#ss = opts.ss ?? runSs;
  }

  /** New timeouts (config reload); they apply from the next sweep. */
  setTimeouts(t: ConnGuardTimeouts): void {
    this.#timeouts = t;
    if (this.#timer !== undefined) {
      this.stop();
      this.start();
    }
  }

  /** Sweeps every quarter of the shorter timeout (100 ms to 1 s). */
  start(): void {
    if (this.#timer !== undefined || this.#disabled) return;
    const t = Math.min(
      this.#timeouts.headerTimeout,
      this.#timeouts.keepaliveTimeout,
    );
    const every = Math.max(100, Math.min(1000, t / 4));
    this.#timer = setInterval(() => {
      this.sweep().catch((e) =>
        this.#log.warn(`connection guard: ${(e as Error).message}`)
      );
    }, every);
    Deno.unrefTimer(this.#timer);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** A request started on the connection `key` (see connKey). */
  begin(key: string): ConnEntry {
    let e = this.#entries.get(key);
    if (!e) {
      e = { pending: 0, lastStart: 0, firstSeen: 0, upgraded: false };
      this.#entries.set(key, e);
    }
    e.pending++;
    e.lastStart = Date.now();
    return e;
  }

  /** The request's handler answered; `status` 101 marks an upgrade. */
  end(e: ConnEntry, status: number): void {
    e.pending--;
    if (status === 101) e.upgraded = true;
  }

  /** Connections the guard tracks (tests). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Lists the watched connections, closes those past a timeout and forgets
   * those gone. Returns the keys closed.
   */
  async sweep(): Promise<string[]> {
    if (this.#sweeping || this.#disabled) return [];
    const ports = this.#ports().filter((p) => p > 0);
    if (!ports.length) return [];
    this.#sweeping = true;
    try {
      const filter = `( ${ports.map((p) => `sport = :${p}`).join(" or ")} )`;
      let text: string;
      try {
        text = await this.#ss(["-tinHO", "state", "established", filter]);
      } catch (err) {
        this.#disable(`cannot list connections: ${(err as Error).message}`);
        return [];
      }
      const now = Date.now();
      const conns = parseSs(text);
      const live = new Set<string>();
      const victims: { conn: SsConn; reason: CloseReason }[] = [];
      const { headerTimeout, keepaliveTimeout } = this.#timeouts;
      for (const c of conns) {
        live.add(c.key);
        let e = this.#entries.get(c.key);
        if (!e) {
          e = { pending: 0, lastStart: 0, firstSeen: now, upgraded: false };
          this.#entries.set(c.key, e);
        }
        if (!e.firstSeen) e.firstSeen = now;
        if (e.pending > 0 || e.upgraded) continue;
        if (!e.lastStart) {
          if (now - e.firstSeen >= headerTimeout) {
            victims.push({ conn: c, reason: "header" });
          }
        } else if (
          now - e.lastStart >= keepaliveTimeout &&
          c.lastSendMs >= keepaliveTimeout
        ) {
          victims.push({ conn: c, reason: "keepalive" });
        }
      }
      for (const [key, e] of this.#entries) {
        // a request may have begun after ss listed the connections
        if (!live.has(key) && e.pending === 0 && e.lastStart < now) {
          this.#entries.delete(key);
        }
      }
      if (victims.length) await this.#close(victims);
      return victims.map((v) => v.conn.key);
    } finally {
      this.#sweeping = false;
    }
  }

  async #close(victims: { conn: SsConn; reason: CloseReason }[]) {
    const again = victims.filter((v) => this.#lastClosed.has(v.conn.key));
    if (again.length && again.length === victims.length) {
      this.#disable(
        "ss -K did not close connections (it needs CAP_NET_ADMIN and a " +
          "kernel with CONFIG_INET_DIAG_DESTROY)",
      );
      return;
    }
    this.#lastClosed = new Set(victims.map((v) => v.conn.key));
    for (let i = 0; i < victims.length; i += 64) {
      const batch = victims.slice(i, i + 64);
      const expr = batch.map((v) =>
        `( sport = :${v.conn.localPort} and dst ${v.conn.peer} )`
      ).join(" or ");
      try {
        await this.#ss(["-K", "-tnH", "state", "established", `( ${expr} )`]);
      } catch (err) {
        this.#disable(`cannot close connections: ${(err as Error).message}`);
        return;
      }
      for (const v of batch) {
        this.closed[v.reason]++;
        this.#entries.delete(v.conn.key);
      }
    }
    const n = (r: CloseReason) => victims.filter((v) => v.reason === r).length;
    if (n("header")) {
      this.#log.info(
        `closed ${
          n("header")
        } connection(s) that sent no request head within ${this.#timeouts.headerTimeout} ms`,
      );
    }
    if (n("keepalive")) {
      this.#log.debug(
        `closed ${n("keepalive")} idle keep-alive connection(s)`,
      );
    }
  }

  #disable(why: string): void {
    this.#disabled = true;
    this.stop();
    this.#log.warn(
      `connection guard off: ${why}; slow request heads are not timed out`,
    );
  }
}
