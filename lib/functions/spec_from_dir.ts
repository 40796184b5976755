/**
 * @module
 * A stand-in for lib/spec's `readSpec` on function directories until that
 * lands: finds the entry point and reads the few `// mypaas.*` keys functions
 * use (`service`, `url`, `domain`, `env`, `entrypoint`, `idle`). The daemon
 * prefers lib/spec's reader when it is wired; this one is the fallback.
 */
import { InputError } from "../errors.ts";
import type { FunctionSpec, SpecUrl } from "../spec/types.ts";
import { parseDuration } from "../units.ts";

/** Entry files tried in order when none is named. */
export const ENTRY_CANDIDATES = [
  "main.ts",
  "main.js",
  "mod.ts",
  "server.ts",
  "index.ts",
];

/** Lower-case `[a-z0-9-]` name. */
export function sanitizeName(raw: string): string {
  return raw.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "")
    .slice(0, 63);
}

/** Parses `https://host/path` or a bare host (meaning https://host). */
export function parseFunctionUrl(raw: string, where: string): SpecUrl {
  const text = /^[a-z]+:\/\//i.test(raw) ? raw : `https://${raw}`;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new InputError(`${where}: not a URL or host name: "${raw}"`);
  }
  const scheme = u.protocol === "http:" ? "http" : "https";
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new InputError(`${where}: URL must be http or https: "${raw}"`);
  }
  const path = u.pathname.replace(/\/+$/, "") || "/";
  return {
    url: `${scheme}://${u.hostname}${path === "/" ? "" : path}`,
    scheme,
    host: u.hostname.toLowerCase(),
    path,
  };
}

async function entryFromDenoJson(dir: string): Promise<string | null> {
  for (const name of ["deno.json", "deno.jsonc"]) {
    try {
      const text = await Deno.readTextFile(`${dir}/${name}`);
      const json = JSON.parse(text.replace(/^\s*\/\/.*$/gm, ""));
      const main = json?.deploy?.entrypoint ?? json?.main ??
        (typeof json?.exports === "string" ? json.exports : null);
      if (typeof main === "string") return main.replace(/^\.\//, "");
    } catch { /* no or unreadable deno.json */ }
  }
  return null;
}

/** Resolves a function directory's spec from its entry file and the flags. */
export async function functionSpecFromDir(
  dir: string,
  opts: {
    entrypoint?: string;
    domains?: string[];
    env?: string[];
    skipOptimize?: boolean;
    name?: string;
  },
  secrets: Record<string, string>,
): Promise<FunctionSpec> {
  let entry = opts.entrypoint ?? await entryFromDenoJson(dir);
  if (!entry) {
    for (const c of ENTRY_CANDIDATES) {
      if (await Deno.stat(`${dir}/${c}`).then(() => true, () => false)) {
        entry = c;
        break;
      }
    }
  }
  if (!entry) {
    throw new InputError(
      `${dir}: no Dockerfile and no entry point (${
        ENTRY_CANDIDATES.join(", ")
      }): add one or pass --entry-point`,
    );
  }
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/${entry}`);
  } catch {
    throw new InputError(`${dir}: entry point "${entry}" not found`);
  }
  let name = opts.name ?? "";
  const urls: SpecUrl[] = [];
  const envKeys: string[] = [];
  let idleMs: number | undefined;
  text.split("\n").forEach((line, i) => {
    const m = /^\s*\/\/\s*mypaas\.([a-z]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) return;
    const [, key, value] = m as unknown as [string, string, string];
    const where = `${entry}:${i + 1}: mypaas.${key}`;
    if (key === "service") name ||= value;
    else if (key === "url" || key === "domain") {
      urls.push(parseFunctionUrl(value, where));
    } else if (key === "env") envKeys.push(value);
    else if (key === "idle") {
      idleMs = parseDuration(value);
      if (idleMs === undefined) {
        throw new InputError(
          `${where}: needs a duration like "5m": got "${value}"`,
        );
      }
    } else if (key !== "entrypoint") {
      throw new InputError(`${where}: unknown key for a function`);
    }
  });
  for (const d of opts.domains ?? []) {
    urls.push(parseFunctionUrl(d, "--domain"));
  }
  const env: Record<string, string> = {};
  for (const kv of [...envKeys, ...(opts.env ?? [])]) {
    const eq = kv.indexOf("=");
    if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
    else if (kv in secrets) env[kv] = secrets[kv]!;
    else {
      throw new InputError(
        `env "${kv}" has no value and is not in [env] of config.toml`,
      );
    }
  }
  name = sanitizeName(name || dir.replace(/\/+$/, "").split("/").pop() || "");
  if (!name) throw new InputError(`${dir}: cannot derive a function name`);
  const spec: FunctionSpec = {
    kind: "function",
    service: name,
    entrypoint: entry,
    urls,
    env,
    skipOptimize: opts.skipOptimize ?? false,
  };
  if (idleMs !== undefined) spec.idleMs = idleMs;
  return spec;
}
