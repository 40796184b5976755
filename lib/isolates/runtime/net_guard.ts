/**
 * @module
 * Refuses IPv6 ranges that Deno 2.9's `--deny-net` cannot express (it takes
 * no IPv6 CIDRs): unique-local fc00::/7 and link-local fe80::/10 literals.
 * Installed in each isolate before user code runs, over fetch, WebSocket,
 * Deno.connect and Deno.connectTls. (Host names resolving there are not
 * caught: such hosts have no route without IPv6 on the host.) Imports
 * nothing of the daemon.
 */

/** True for an IPv6 literal (with or without brackets) in fc00::/7 or fe80::/10. */
export function isDeniedIpv6(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (!h.includes(":")) return false;
  const first = h.startsWith("::") ? 0 : parseInt(h.split(":")[0] || "0", 16);
  if (Number.isNaN(first)) return false;
  return (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80;
}

function refuse(host: string): never {
  throw refuseError(host);
}

function hostOf(input: unknown): string {
  try {
    const url = input instanceof Request
      ? input.url
      : input instanceof URL
      ? input.href
      : String(input);
    return new URL(url).hostname;
  } catch {
    return "";
  }
}

/** Wraps the network entry points of this isolate. */
export function installNetGuard(): void {
  const realFetch = globalThis.fetch;
  globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
    const host = hostOf(input);
    if (isDeniedIpv6(host)) return Promise.reject(refuseError(host));
    return realFetch(input, init);
  };
  const RealWebSocket = globalThis.WebSocket;
  type Options = ConstructorParameters<typeof WebSocket>[1];
  globalThis.WebSocket = class extends RealWebSocket {
    constructor(url: string | URL, protocols?: Options) {
      const host = hostOf(url);
      if (isDeniedIpv6(host)) refuse(host);
      super(url, protocols);
    }
  };
  const d = Deno as unknown as Record<string, unknown>;
  for (const name of ["connect", "connectTls"]) {
    const real = d[name] as (o: { hostname?: string }) => Promise<unknown>;
    Object.defineProperty(Deno, name, {
      value: (opts: { hostname?: string }) =>
        isDeniedIpv6(opts?.hostname ?? "")
          ? Promise.reject(refuseError(opts.hostname ?? ""))
          : real(opts),
      configurable: false,
      writable: false,
    });
  }
}

function refuseError(host: string): Error {
  return new Deno.errors.NotCapable(
    `Requires net access to "${host}": private IPv6 ranges are denied`,
  );
}
