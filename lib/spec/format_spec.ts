/**
 * @module
 * `formatSpec`: a resolved spec as aligned `key  value` lines for a person.
 * Environment values are left out (they may be secrets from `[env]`); the
 * JSON form has them.
 */
import { formatDuration } from "../units.ts";
import type { DeploySpec, HttpCheck } from "./types.ts";

const check = (c: HttpCheck) =>
  `${c.path} every ${formatDuration(c.intervalMs)}, timeout ${
    formatDuration(c.timeoutMs)
  }`;

function bytes(n: number): string {
  const units = [["G", 1024 ** 3], ["M", 1024 ** 2], ["K", 1024]] as const;
  for (const [unit, size] of units) {
    if (n >= size) return `${Number((n / size).toFixed(2))}${unit}`;
  }
  return `${n} bytes`;
}

/** The spec as lines of `key  value`, ending with a newline. */
export function formatSpec(spec: DeploySpec): string {
  const rows: [string, string][] = [
    ["kind", spec.kind],
    ["service", spec.service],
  ];
  const add = (k: string, v: string | undefined) => {
    if (v !== undefined) rows.push([k, v]);
  };
  if (spec.kind === "service") add("file", spec.file);
  else add("entrypoint", spec.entrypoint);
  for (const u of spec.urls) add("url", u.url);
  if (spec.urls.length === 0) add("url", "(none: not routed)");
  for (const name of Object.keys(spec.env)) add("env", `${name} (set)`);
  if (spec.kind === "function") {
    add(
      "optimize",
      spec.skipOptimize ? "no (--skip-optimize)" : "yes (bundled)",
    );
  } else {
    add("port", String(spec.port));
    add(
      "scale",
      `${spec.scale.strategy}, ${spec.scale.replicas} replica${
        spec.scale.replicas === 1 ? "" : "s"
      }`,
    );
    for (const v of spec.volumes) {
      add("volume", `${v.source} -> ${v.target} (${v.kind})`);
    }
    for (const p of spec.publish) {
      add("publish", `${p.hostPort} -> ${p.containerPort}/${p.protocol}`);
    }
    if (spec.healthcheck) add("healthcheck", check(spec.healthcheck));
    if (spec.liveness) add("liveness", check(spec.liveness));
    if (spec.readiness) add("readiness", check(spec.readiness));
    if (spec.maxcpu !== undefined) add("maxcpu", `${spec.maxcpu} cores`);
    if (spec.maxmem !== undefined) add("maxmem", bytes(spec.maxmem));
    if (spec.request) {
      const r = spec.request;
      add(
        "request",
        [
          r.cpu !== undefined ? `cpu ${r.cpu} cores` : "",
          r.mem !== undefined ? `mem ${bytes(r.mem)}` : "",
        ].filter(Boolean).join(", "),
      );
    }
    if (spec.autoscale) {
      const a = spec.autoscale;
      add(
        "autoscale",
        `${a.min}..${a.max} replicas at cpu ${a.cpuPct}% / mem ${a.memPct}%`,
      );
    }
    if (spec.sticky) {
      add(
        "sticky",
        `cookie ${spec.sticky.cookie}${
          spec.sticky.maxAgeS ? `, max-age ${spec.sticky.maxAgeS}s` : ""
        }`,
      );
    }
    if (spec.hash) {
      add(
        "hash",
        spec.hash.by === "ip"
          ? "client ip"
          : `${spec.hash.by} ${spec.hash.name}`,
      );
    }
    if (spec.logs) {
      add(
        "logs",
        `${spec.logs.maxFiles} file(s) of ${bytes(spec.logs.maxSize)}`,
      );
    }
  }
  if (spec.idleMs !== undefined) add("idle", formatDuration(spec.idleMs));
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n") + "\n";
}
