/**
 * @module
 * An HTTPS server (HTTP/1.1 and HTTP/2 by ALPN) that picks its certificate
 * by SNI. Deno.serve takes one certificate only; Deno's TLS listener has an
 * SNI resolver behind the `unstableSniResolver` symbol, and Deno's internals
 * serve HTTP on such a listener. When either is missing (a future Deno) we
 * fall back to Deno.serve with the default certificate. Deno caches resolved
 * certificates per name, so a certificate change rebinds the port (SO_REUSEPORT)
 * and retires the old listener gracefully.
 */

/** A PEM certificate chain and its private key. */
export interface TlsCert {
  cert: string;
  key: string;
}

/** Where the HTTPS listener gets certificates; the TLS engineer provides it. */
export interface CertSource {
  /** The certificate for a host name (lower case), if one is known. */
  get(hostname: string): TlsCert | undefined;
  /** The certificate for unknown names and clients without SNI. */
  defaultCert(): TlsCert;
  /** Calls `cb` after certificates changed; returns an unsubscribe. */
  onChange(cb: () => void): () => void;
}

type Handler = (
  req: Request,
  info: Deno.ServeHandlerInfo,
) => Response | Promise<Response>;

/** A running HTTPS server. */
export interface TlsServer {
  readonly addr: Deno.NetAddr;
  /** True when certificates are chosen by SNI (false: default cert only). */
  readonly sni: boolean;
  shutdown(): Promise<void>;
}

const RESOLVER = Symbol.for("unstableSniResolver");

interface Internals {
  serveHttpOnListener?: (
    listener: Deno.Listener,
    signal: AbortSignal | undefined,
    handler: Handler,
    onError: (e: unknown) => Response,
    onListen: () => void,
    automaticCompression?: boolean,
  ) => Deno.HttpServer<Deno.NetAddr>;
}

function internals(): Internals {
  const d = Deno as unknown as Record<symbol, Internals | undefined>;
  const sym = (Deno as unknown as { internal?: symbol }).internal;
  return (sym && d[sym]) || {};
}

/** Starts an HTTPS server on `hostname:port` serving `handler`. */
export function serveTls(
  opts: {
    hostname: string;
    port: number;
    certs: CertSource;
    onError: (e: unknown) => Response;
    reusePort?: boolean;
  },
  handler: Handler,
): TlsServer {
  const serveOn = internals().serveHttpOnListener;
  const fallback = opts.certs.defaultCert();
  if (serveOn) {
    const listener = Deno.listenTls(
      {
        hostname: opts.hostname,
        port: opts.port,
        reusePort: opts.reusePort ?? false,
        alpnProtocols: ["h2", "http/1.1"],
        [RESOLVER]: (sni: string) =>
          (sni && opts.certs.get(sni.toLowerCase())) ||
          opts.certs.defaultCert(),
      } as unknown as Deno.ListenTlsOptions & Deno.TlsCertifiedKeyPem,
    );
    const server = serveOn(
      listener,
      undefined,
      handler,
      opts.onError,
      () => {},
      false,
    );
    return {
      addr: listener.addr,
      sni: true,
      shutdown: () => server.shutdown(),
    };
  }
  const server = Deno.serve({
    hostname: opts.hostname,
    port: opts.port,
    reusePort: opts.reusePort ?? false,
    cert: fallback.cert,
    key: fallback.key,
    automaticCompression: false,
    onListen() {},
    onError: opts.onError,
  }, handler);
  return { addr: server.addr, sni: false, shutdown: () => server.shutdown() };
}
