// deno-lint-ignore-file no-console -- cmd/ is where output to a person belongs
/**
 * @module
 * `mypaas server deploy DIR | list | remove SERVICE | restart SERVICE |
 * rollback SERVICE [RELEASE] | logs SERVICE [--follow]`: thin clients of the
 * running daemon's control socket. Exit 0 ok, 1 failed operation, 2 bad input.
 */
import type { Command } from "commander";
import { loadConfig } from "../lib/config/mod.ts";
import { ControlClient } from "../lib/api/control_client.ts";
import type { DeploymentStatus, DeployResult } from "../lib/daemon/platform.ts";
import { InputError } from "../lib/errors.ts";
import { ExitCode } from "./_exit.ts";

interface CommonOpts {
  config?: string;
  socket?: string;
}

async function client(opts: CommonOpts): Promise<ControlClient> {
  if (opts.socket) return new ControlClient(opts.socket);
  const config = await loadConfig({
    flag: opts.config,
    envVar: Deno.env.get("MYPAAS_CONFIG"),
    home: Deno.env.get("HOME") ?? "/root",
  });
  return new ControlClient(config.server.controlSocket);
}

function withCommon(cmd: Command): Command {
  return cmd
    .option("-c, --config <file>", "config file (to find the control socket)")
    .option("--socket <path>", "control socket path (overrides the config)");
}

function finish(result: DeployResult, verb: string): void {
  if (result.ok) {
    console.log(`${verb} ok: ${result.service} release ${result.release}`);
    return;
  }
  throw new ExitCode(
    1,
    `${verb} failed: ${result.error ?? "unknown error"}${
      result.release !== null
        ? ` (${result.service} still runs release ${result.release})`
        : ""
    }`,
  );
}

/** Formats `list` as a table. */
export function formatList(items: DeploymentStatus[]): string {
  if (!items.length) return "no services";
  const rows = [[
    "SERVICE",
    "KIND",
    "RELEASE",
    "STATE",
    "INSTANCES",
    "RESTARTS",
    "EVICTED",
    "QUEUED",
    "LOG",
    "URLS",
  ]];
  for (const s of items) {
    rows.push([
      s.service,
      s.kind,
      s.release === null ? "-" : String(s.release),
      s.state,
      s.instances.map((i) => `${i.id}:${i.state}`).join(",") || "-",
      String(s.instances.reduce((n, i) => n + i.restarts, 0)),
      s.pool ? String(s.pool.evictions) : "-",
      s.pool
        ? `${s.pool.queued}${
          s.pool.rejected ? ` (${s.pool.rejected} 503)` : ""
        }`
        : "-",
      // one rotation per release: mypaas.logs or [docker] log_max_*
      [...new Set(s.instances.map((i) => i.log).filter(Boolean))].join(",") ||
      "-",
      s.urls.join(" ") || "-",
    ]);
  }
  const widths = rows[0]!.map((_, i) =>
    Math.max(...rows.map((r) => r[i]!.length))
  );
  return rows.map((r) =>
    r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()
  )
    .join("\n");
}

/** Adds the control-socket clients to `mypaas server`. */
export function registerServerCtl(server: Command): void {
  withCommon(server.command("deploy <dir>"))
    .description("build and deploy DIR on this host through the running daemon")
    .option("--env <KEY=VALUE>", "extra environment (repeatable)", collect, [])
    .option(
      "--domain <domain>",
      "function: also serve at https://DOMAIN (repeatable)",
      collect,
      [],
    )
    .option("--entry-point <file>", "function: the entry file")
    .option("--skip-optimize", "function: deploy the sources, no bundle")
    .action(async (
      dir: string,
      opts: CommonOpts & {
        env: string[];
        domain: string[];
        entryPoint?: string;
        skipOptimize?: boolean;
      },
    ) => {
      let abs: string;
      try {
        abs = await Deno.realPath(dir);
      } catch {
        throw new InputError(`directory "${dir}" does not exist`);
      }
      const c = await client(opts);
      try {
        const r = await c.deploy(
          abs,
          {
            ...(opts.env.length ? { env: opts.env } : {}),
            ...(opts.domain.length ? { domains: opts.domain } : {}),
            ...(opts.entryPoint ? { entrypoint: opts.entryPoint } : {}),
            ...(opts.skipOptimize ? { skipOptimize: true } : {}),
          },
          (l) => console.log(l),
        );
        finish(r, "deploy");
      } finally {
        c.close();
      }
    });

  withCommon(server.command("list"))
    .description("list services and functions with release, state and restarts")
    .option("--json", "print JSON")
    .action(async (opts: CommonOpts & { json?: boolean }) => {
      const c = await client(opts);
      try {
        const items = await c.list();
        console.log(
          opts.json ? JSON.stringify(items, null, 2) : formatList(items),
        );
      } finally {
        c.close();
      }
    });

  withCommon(server.command("remove <service>"))
    .description("stop and remove a service (containers, images, routes)")
    .action(async (service: string, opts: CommonOpts) => {
      const c = await client(opts);
      try {
        await c.remove(service);
        console.log(`removed ${service}`);
      } finally {
        c.close();
      }
    });

  withCommon(server.command("restart <service>"))
    .description("restart a service's containers one at a time")
    .action(async (service: string, opts: CommonOpts) => {
      const c = await client(opts);
      try {
        await c.restart(service);
        console.log(`restarted ${service}`);
      } finally {
        c.close();
      }
    });

  withCommon(server.command("rollback <service> [release]"))
    .description(
      "return to a kept release (default: the previous one) without building",
    )
    .action(
      async (
        service: string,
        release: string | undefined,
        opts: CommonOpts,
      ) => {
        let n: number | undefined;
        if (release !== undefined) {
          n = Number(release);
          if (!Number.isInteger(n) || n < 1) {
            throw new InputError(
              `release must be a positive whole number, got "${release}"`,
            );
          }
        }
        const c = await client(opts);
        try {
          finish(
            await c.rollback(service, n, (l) => console.log(l)),
            "rollback",
          );
        } finally {
          c.close();
        }
      },
    );

  withCommon(server.command("logs <service>"))
    .description("print a service's logs")
    .option("-f, --follow", "keep printing new lines")
    .option("-n, --tail <lines>", "only the last N lines of each container")
    .action(
      async (
        service: string,
        opts: CommonOpts & { follow?: boolean; tail?: string },
      ) => {
        const tail = opts.tail === undefined ? undefined : Number(opts.tail);
        if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) {
          throw new InputError(
            `--tail must be a whole number, got "${opts.tail}"`,
          );
        }
        const c = await client(opts);
        const ctl = new AbortController();
        const onSignal = () => ctl.abort();
        Deno.addSignalListener("SIGINT", onSignal);
        try {
          await c.logs(service, {
            follow: opts.follow ?? false,
            signal: ctl.signal,
            ...(tail !== undefined ? { tail } : {}),
          }, (l) => console.log(l));
        } finally {
          Deno.removeSignalListener("SIGINT", onSignal);
          c.close();
        }
      },
    );
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}
