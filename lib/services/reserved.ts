/**
 * @module
 * What a deployment may not claim because the daemon holds it: URLs on the
 * admin domain (its API and dashboard live there) and, for `publish`, the
 * host ports the daemon's proxy listens on or another service publishes.
 * Read from the live config on every check, so a reload (SIGHUP) that moves
 * the admin domain applies to the next push.
 */
import type { ResolvedConfig } from "../config/mod.ts";
import { InputError } from "../errors.ts";
import type { PublishSpec, SpecUrl } from "../spec/types.ts";

/** Refuses (409) a URL whose host is the admin domain. */
export function checkAdminDomain(
  file: string,
  urls: readonly SpecUrl[],
  config: ResolvedConfig,
): void {
  const admin = config.server.domain.toLowerCase().replace(/\.$/, "");
  const claimed = urls.find((u) => u.host.replace(/\.$/, "") === admin);
  if (!claimed) return;
  throw new InputError(
    `${file}: URL ${claimed.url} is on the admin domain ${admin} ([server] domain), which belongs to the daemon: use another host name`,
    { status: 409 },
  );
}

/**
 * Refuses (409) a published TCP port the daemon's proxy listens on, and a
 * port (with its protocol) that `others` (service → its publishes) holds.
 */
export function checkPublishedPorts(
  file: string,
  service: string,
  publish: readonly PublishSpec[],
  config: ResolvedConfig,
  others: ReadonlyMap<string, readonly PublishSpec[]>,
): void {
  const { httpPort, httpsPort } = config.server;
  for (const p of publish) {
    const listener = p.protocol === "tcp"
      ? p.hostPort === httpPort
        ? "http_port"
        : p.hostPort === httpsPort
        ? "https_port"
        : null
      : null;
    if (listener && p.hostPort !== 0) {
      throw new InputError(
        `${file}: mypaas.publish ${p.hostPort}:${p.containerPort} binds host port ${p.hostPort}, which the daemon listens on ([server] ${listener}): publish another host port`,
        { status: 409 },
      );
    }
    for (const [other, theirs] of others) {
      if (other === service) continue;
      if (
        theirs.some((t) =>
          t.hostPort === p.hostPort && t.protocol === p.protocol
        )
      ) {
        throw new InputError(
          `${file}: mypaas.publish ${p.hostPort}:${p.containerPort}${
            p.protocol === "udp" ? "/udp" : ""
          } binds host port ${p.hostPort}, which service "${other}" publishes: publish another host port or remove ${other}`,
          { status: 409 },
        );
      }
    }
  }
}
