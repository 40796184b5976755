/**
 * @module
 * Value parsers for the routing and wiring keys: `url`, `domain`, `port`,
 * `publish`, `volume` and `env`. Each takes the raw value and where it came
 * from, and returns the resolved value or throws a `SpecError`.
 */
import type { PublishSpec, SpecUrl, VolumeSpec } from "./types.ts";
import { type At, needs } from "./_fail.ts";
import { SpecError } from "./spec_error.ts";

const URL_GRAMMAR = `an http(s) URL such as "https://example.com/api"`;
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;

/**
 * `mypaas.url`: http or https, a host, an optional path prefix. No port (the
 * proxy serves every URL on its own listeners), no user info, query or
 * fragment. The host is lower-cased (IDN hosts become punycode) and the path
 * loses its trailing slash.
 */
export function parseUrl(value: string, at: At): SpecUrl {
  const bad = (why: string) => needs(at, URL_GRAMMAR, value, why);
  if (/\s/.test(value)) throw bad("blanks are not allowed");
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(value);
  if (!m) throw bad("it does not start with http:// or https://");
  const scheme = m[1]!.toLowerCase();
  if (scheme !== "http" && scheme !== "https") {
    throw bad(`the scheme must be http or https, not ${scheme}`);
  }
  const authority = m[2]!;
  const rest = m[3]!;
  if (/[?#]/.test(rest)) throw bad("a query or fragment is not allowed");
  if (authority.includes("@")) throw bad("user info is not allowed");
  if (authority.includes(":")) {
    throw bad(
      "a port is not allowed: the proxy serves every URL on its own ports ([server] http_port and https_port)",
    );
  }
  const host = checkHost(authority, bad);
  const path = checkPath(rest, bad);
  return {
    url: `${scheme}://${host}${path === "/" ? "" : path}`,
    scheme,
    host,
    path,
  };
}

/** `mypaas.domain` and `--domain`: a bare host meaning `https://HOST`. */
export function parseDomain(value: string, at: At): SpecUrl {
  const grammar = `a host name such as "app.example.com"`;
  const bad = (why: string) => needs(at, grammar, value, why);
  if (value.includes("://") || /[/?#@:\s]/.test(value)) {
    throw bad(
      "only the host: the URL is https://HOST; use mypaas.url for more",
    );
  }
  const host = checkHost(value, bad);
  return { url: `https://${host}`, scheme: "https", host, path: "/" };
}

/** Lower-case, punycode, checked host name or IPv4 address. */
function checkHost(raw: string, bad: (why: string) => SpecError): string {
  if (raw === "") throw bad("the host is missing");
  let host = raw.toLowerCase();
  if (!/^[\x21-\x7e]*$/.test(host)) {
    try {
      host = new URL(`http://${host}/`).hostname;
    } catch {
      throw bad("the host is not a valid name");
    }
  }
  if (host.length > 253) throw bad("the host is longer than 253 characters");
  const labels = host.split(".");
  for (const label of labels) {
    if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(label)) {
      throw bad(
        label === ""
          ? "the host has an empty label"
          : `the host label ${JSON.stringify(label)} is not [a-z0-9-]`,
      );
    }
  }
  if (/^\d+$/.test(labels[labels.length - 1]!)) {
    const ipv4 = labels.length === 4 &&
      labels.every((l) => /^\d{1,3}$/.test(l) && Number(l) <= 255);
    if (!ipv4) throw bad("the host is neither a name nor an IPv4 address");
  }
  return host;
}

/** "" or "/" -> "/"; otherwise a clean absolute path without trailing slash. */
function checkPath(raw: string, bad: (why: string) => SpecError): string {
  if (raw === "" || raw === "/") return "/";
  if (!PATH_CHARS.test(raw)) {
    throw bad("the path has characters a URL path may not have");
  }
  const path = raw.replace(/\/+$/, "");
  const segments = path.split("/").slice(1);
  if (segments.some((s) => s === "" || s === "." || s === "..")) {
    throw bad(`the path may not have empty, "." or ".." segments`);
  }
  return path;
}

/** A TCP/UDP port from 1 to 65535, or undefined. */
function portNumber(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/** `mypaas.port`: the port the container listens on. */
export function parsePort(value: string, at: At): number {
  const port = portNumber(value);
  if (port === undefined) throw needs(at, "a port from 1 to 65535", value);
  return port;
}

/** `mypaas.publish=HOST:CONTAINER[/udp|/tcp]`. */
export function parsePublish(value: string, at: At): PublishSpec {
  const grammar = `"HOST:CONTAINER" ports with an optional "/tcp" or "/udp"`;
  const m = /^(\d+):(\d+)(?:\/(tcp|udp))?$/i.exec(value);
  if (!m) throw needs(at, grammar, value);
  const hostPort = portNumber(m[1]!);
  const containerPort = portNumber(m[2]!);
  if (hostPort === undefined || containerPort === undefined) {
    throw needs(at, grammar, value, "ports run from 1 to 65535");
  }
  const protocol = (m[3]?.toLowerCase() ?? "tcp") as "tcp" | "udp";
  return { hostPort, containerPort, protocol };
}

/**
 * `mypaas.volume=HOST:CONTAINER`. HOST with a slash (or `~`) is a bind mount
 * and must be absolute once `~` is expanded with `home`; HOST without a slash
 * is a named Docker volume. CONTAINER is an absolute path other than `/`.
 */
export function parseVolume(value: string, at: At, home: string): VolumeSpec {
  const grammar = `"HOST:CONTAINER" such as "~/data:/data"`;
  const parts = value.split(":");
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw needs(at, grammar, value);
  }
  let source = parts[0];
  const target = parts[1];
  if (/\s/.test(value)) {
    throw needs(at, grammar, value, "blanks are not allowed");
  }
  let kind: VolumeSpec["kind"] = "volume";
  if (source === "~" || source.startsWith("~/")) {
    source = home.replace(/\/+$/, "") + source.slice(1);
    kind = "bind";
  } else if (source.includes("/") || source.startsWith("~")) {
    if (!source.startsWith("/")) {
      throw needs(
        at,
        grammar,
        value,
        `the host path must start with "/" or "~/"`,
      );
    }
    kind = "bind";
  } else if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(source)) {
    throw needs(at, grammar, value, "a volume name is [A-Za-z0-9_.-]");
  }
  if (kind === "bind" && source.length > 1) source = source.replace(/\/+$/, "");
  if (!target.startsWith("/") || target === "/") {
    throw needs(
      at,
      grammar,
      value,
      `the container path must be absolute and not "/"`,
    );
  }
  if (target.split("/").includes("..")) {
    throw needs(
      at,
      grammar,
      value,
      `".." is not allowed in the container path`,
    );
  }
  return { source, target: target.replace(/\/+$/, ""), kind };
}

/**
 * `mypaas.env` and `--env`: `NAME=VALUE`, or a bare `NAME` whose value comes
 * from `[env]` of config.toml.
 */
export function parseEnv(
  value: string,
  at: At,
  secrets: Readonly<Record<string, string>>,
): [string, string] {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:\s*=([\s\S]*))?$/.exec(value);
  if (!m) {
    // never echo the value: it may be a secret (a bare word may be one too)
    const eq = value.indexOf("=");
    throw new SpecError(
      at,
      `needs "NAME=VALUE" or a bare "NAME" from [env]: got ${
        eq < 0
          ? "a bare word that is not a NAME"
          : `${JSON.stringify(value.slice(0, eq).slice(0, 60))}=… (not a NAME)`
      }; a NAME is letters, digits and _, not starting with a digit (the value is not shown)`,
    );
  }
  const name = m[1]!;
  if (m[2] !== undefined) return [name, m[2].trim()];
  if (!Object.hasOwn(secrets, name)) {
    throw new SpecError(
      at,
      `takes "${name}" from config.toml, but it has no ${name} in [env]: add ${name} = "..." to [env] in config.toml, or write ${name}=VALUE`,
    );
  }
  return [name, secrets[name]!];
}
