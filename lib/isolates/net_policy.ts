/**
 * @module
 * The addresses isolates may not reach, as `--deny-net` entries of the
 * worker processes. Deno checks resolved addresses against them, so a host
 * name that resolves to 127.0.0.1 is refused too. Deno 2.9.6 takes IPv4 CIDRs
 * but no IPv6 CIDRs (`[fc00::]/7` is rejected), so IPv6 is denied by address
 * (`[::1]`); fc00::/7 and fe80::/10 have no route on a host without IPv6.
 * `[isolates] allow_net` re-opens IPv4 ranges by splitting the denied CIDRs.
 * The host's own interface addresses (a public IP included: it reaches the
 * daemon and anything bound to 0.0.0.0) are denied too, read afresh each
 * time a worker process or the bundler starts (`hostAddresses()`).
 */

/** Loopback, link-local (cloud metadata), private and Docker ranges. */
export const DENIED_NETS: readonly string[] = [
  "0.0.0.0/8",
  "127.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "[::1]",
  "[::]",
];

function parseCidr(s: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?$/.exec(s.trim());
  if (!m) return null;
  const parts = m.slice(1, 5).map(Number);
  const bits = m[5] === undefined ? 32 : Number(m[5]);
  if (parts.some((p) => p > 255) || bits > 32) return null;
  const ip = parts.reduce((a, p) => a * 256 + p, 0);
  const size = 2 ** (32 - bits);
  return [ip - (ip % size), bits];
}

function format(ip: number, bits: number): string {
  const o = [24, 16, 8, 0].map((s) => Math.floor(ip / 2 ** s) % 256);
  return `${o.join(".")}/${bits}`;
}

function subtract(
  [ip, bits]: [number, number],
  [aip, abits]: [number, number],
): string[] {
  const size = 2 ** (32 - bits), asize = 2 ** (32 - abits);
  if (aip >= ip + size || aip + asize <= ip) return [format(ip, bits)];
  if (abits <= bits) return []; // the allowed range covers this one
  const half = size / 2;
  return [
    ...subtract([ip, bits + 1], [aip, abits]),
    ...subtract([ip + half, bits + 1], [aip, abits]),
  ];
}

/** The `--deny-net` entries: DENIED_NETS plus `extra`, minus `allow`. */
export function denyNetList(
  allow: readonly string[] = [],
  extra: readonly string[] = [],
): string[] {
  let out = [...DENIED_NETS, ...extra];
  for (const a of allow) {
    const allowed = parseCidr(a);
    out = out.flatMap((d) => {
      if (d === a) return [];
      const denied = parseCidr(d);
      return denied && allowed ? subtract(denied, allowed) : [d];
    });
  }
  return [...new Set(out)];
}

/**
 * Every address of this host's interfaces, as `--deny-net` entries (IPv6 in
 * brackets, without a zone). Read at each call, so a list built per process
 * start follows interface changes.
 */
export function hostAddresses(
  interfaces: () => Deno.NetworkInterfaceInfo[] = Deno.networkInterfaces,
): string[] {
  const out = new Set<string>();
  for (const i of interfaces()) {
    const addr = i.address.replace(/%.*$/, "");
    out.add(i.family === "IPv6" ? `[${addr}]` : addr);
  }
  return [...out].sort();
}

/** The deny list with the host's own addresses, as of now. */
export function currentDenyList(allow: readonly string[] = []): string[] {
  return denyNetList(allow, hostAddresses());
}
