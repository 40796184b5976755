/**
 * @module
 * The immutable route table: host (one Map lookup), then the longest path
 * prefix. Updates build a new table (copy-on-write) that the router swaps in
 * whole, so a request in flight keeps the table it started with.
 */
import { InputError } from "../errors.ts";
import type { SpecUrl } from "../spec/types.ts";

/** Where a route sends its requests; the router owns the objects. */
export type RouteTarget<P, H> =
  | { kind: "pool"; pool: P }
  | { kind: "handler"; handler: H };

/** One URL of one owner (service or function). */
export interface Route<P, H> {
  /** Service or function name that claimed the URL. */
  owner: string;
  host: string;
  /** "/" or a prefix without trailing slash ("/api"). */
  path: string;
  scheme: "http" | "https";
  /** Strip `path` before forwarding (default: forward as is). */
  stripPrefix: boolean;
  target: RouteTarget<P, H>;
}

/** True when `path` lies under `prefix` ("/api" covers "/api" and "/api/x"). */
export function underPrefix(path: string, prefix: string): boolean {
  if (prefix === "/") return true;
  return path.startsWith(prefix) &&
    (path.length === prefix.length || path.charCodeAt(prefix.length) === 47);
}

/** Host -> routes sorted by path length, longest first. */
export class RouteTable<P, H> {
  readonly #byHost: ReadonlyMap<string, readonly Route<P, H>[]>;

  constructor(byHost: ReadonlyMap<string, readonly Route<P, H>[]> = new Map()) {
    this.#byHost = byHost;
  }

  /** Number of hosts with at least one route. */
  get hostCount(): number {
    return this.#byHost.size;
  }

  /** The route for a lower-case host (no port) and a path, if any. */
  lookup(host: string, path: string): Route<P, H> | undefined {
    const routes = this.#byHost.get(host);
    if (!routes) return undefined;
    for (const route of routes) {
      if (underPrefix(path, route.path)) return route;
    }
    return undefined;
  }

  /** Every route, for listing. */
  routes(): Route<P, H>[] {
    return [...this.#byHost.values()].flat();
  }

  /**
   * Throws an InputError (409) naming the first of `urls` that another owner
   * already claims (same host and path, either scheme).
   */
  checkClaims(owner: string, urls: readonly SpecUrl[]): void {
    for (const url of urls) {
      const other = this.#byHost.get(url.host)?.find((r) =>
        r.path === url.path && r.owner !== owner
      );
      if (other) {
        throw new InputError(
          `URL "${url.url}" is already served by "${other.owner}": remove it there first or pick another URL`,
          { status: 409 },
        );
      }
    }
  }

  /** A new table where `owner`'s routes are exactly `routes`. */
  withOwner(owner: string, routes: readonly Route<P, H>[]): RouteTable<P, H> {
    const seen = new Set<string>();
    for (const r of routes) {
      const key = `${r.host}${r.path}`;
      if (seen.has(key)) {
        throw new InputError(
          `URL "${r.scheme}://${key}" is listed twice for "${owner}": keep one`,
          { status: 409 },
        );
      }
      seen.add(key);
    }
    this.checkClaims(
      owner,
      routes.map((r) => ({
        url: `${r.scheme}://${r.host}${r.path}`,
        scheme: r.scheme,
        host: r.host,
        path: r.path,
      })),
    );
    const next = new Map<string, Route<P, H>[]>();
    for (const [host, list] of this.#byHost) {
      const kept = list.filter((r) => r.owner !== owner);
      if (kept.length) next.set(host, kept);
    }
    for (const r of routes) {
      const list = next.get(r.host) ?? [];
      if (!next.has(r.host)) next.set(r.host, list);
      list.push(r);
    }
    for (const list of next.values()) {
      list.sort((a, b) => b.path.length - a.path.length);
    }
    return new RouteTable(next);
  }

  /** A new table without `owner`'s routes. */
  withoutOwner(owner: string): RouteTable<P, H> {
    return this.withOwner(owner, []);
  }
}
