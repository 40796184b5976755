/**
 * @module
 * Reads config.toml (smol-toml), checks every key against `SCHEMA` and
 * resolves it once into a `ResolvedConfig`. Errors name the file, the line
 * and the key. This module is pure apart from the file read in `loadConfig`;
 * the caller passes HOME and the file path in.
 */
import { parse, TomlError } from "smol-toml";
import { InputError } from "../errors.ts";
import { parseDuration, parseSize } from "../units.ts";
import type { ResolvedConfig } from "./config.ts";
import { type KeySchema, SCHEMA } from "./schema.ts";

/** Where to find things the config refers to. */
export interface ResolveOptions {
  /** Home directory, for `~` in paths. */
  home: string;
  /** File name used in error messages. */
  file?: string;
}

/** A bad config.toml; the message names file, line and key. */
export class ConfigError extends InputError {
  override name = "ConfigError";
}

type Raw = Record<string, unknown>;

/** Parses and resolves config text. Empty text gives the embedded defaults. */
export function resolveConfig(
  text: string,
  opts: ResolveOptions,
): ResolvedConfig {
  const file = opts.file ?? "config.toml";
  let raw: Raw;
  try {
    raw = parse(text) as Raw;
  } catch (err) {
    if (err instanceof TomlError) {
      throw new ConfigError(
        `${file}:${err.line}: invalid TOML: ${err.message.split("\n")[0]}`,
        { cause: err },
      );
    }
    throw err;
  }
  const where = (section: string, key?: string) =>
    `${file}:${findLine(text, section, key)}`;
  const values: Record<string, Record<string, unknown>> = {};
  for (const [section, body] of Object.entries(raw)) {
    if (section === "env") continue;
    const tables = Array.isArray(body) && body.length > 0 &&
      body.every(isTable); // [[section]]
    if (!isTable(body) && !tables) {
      throw new ConfigError(
        `${file}:${
          findLine(text, "", section)
        }: key "${section}" is outside any section; put it under its [section] header`,
      );
    }
    if (!(section in SCHEMA)) {
      throw new ConfigError(
        `${where(section)}: unknown section [${section}]; known: ${
          [...Object.keys(SCHEMA), "env"].join(", ")
        }`,
      );
    }
    if (!isTable(body)) {
      throw new ConfigError(`${where(section)}: [${section}] must be a table`);
    }
  }
  for (const [section, keys] of Object.entries(SCHEMA)) {
    const body = (raw[section] ?? {}) as Raw;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(body)) {
      if (!(key in keys)) {
        throw new ConfigError(
          `${
            where(section, key)
          }: unknown key "${key}" in [${section}]; known: ${
            Object.keys(keys).join(", ")
          }`,
        );
      }
    }
    for (const [key, schema] of Object.entries(keys) as [string, KeySchema][]) {
      const given = key in body;
      const value = given ? body[key] : schema.default;
      out[key] = convert(
        value,
        schema,
        () => `${where(section, given ? key : undefined)}: [${section}] ${key}`,
      );
    }
    values[section] = out;
  }
  const env = raw.env ?? {};
  if (!isTable(env)) {
    throw new ConfigError(`${where("env")}: [env] must be a table`);
  }
  const envOut: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (
      typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean"
    ) {
      throw new ConfigError(
        `${where("env", k)}: [env] ${k} must be a string, got ${describe(v)}`,
      );
    }
    envOut[k] = String(v);
  }
  const home = opts.home;
  const path = (p: unknown) => expandHome(String(p), home);
  const s = values.server!,
    a = values.acme!,
    d = values.docker!,
    p = values.proxy!,
    i = values.isolates!,
    c = values.cache!,
    t = values.telemetry!;
  const config: ResolvedConfig = {
    file: opts.file ?? null,
    server: {
      domain: String(s.domain),
      dataDir: path(s.data_dir),
      bind: String(s.bind),
      httpPort: s.http_port as number,
      httpsPort: s.https_port as number,
      controlSocket: path(s.control_socket),
      maxUpload: s.max_upload as number,
      maxUploadFiles: s.max_upload_files as number,
      maxUnpacked: s.max_unpacked as number,
      keepReleases: s.keep_releases as number,
    },
    acme: {
      email: String(a.email),
      directory: String(a.directory),
      caFile: a.ca_file ? path(a.ca_file) : "",
      renewFraction: a.renew_fraction as number,
    },
    docker: {
      socket: path(d.socket),
      network: String(d.network),
      volumeRoot: path(d.volume_root),
      logMaxSize: d.log_max_size as number,
      logMaxFiles: d.log_max_files as number,
      logMaxTotal: d.log_max_total as number,
      buildCpus: d.build_cpus as number,
      buildMemory: d.build_memory as number,
      buildTimeout: d.build_timeout as number,
    },
    proxy: {
      maxBody: p.max_body as number,
      maxHeader: p.max_header as number,
      upstreamTimeout: p.upstream_timeout as number,
      clientTimeout: p.client_timeout as number,
      headerTimeout: p.header_timeout as number,
      keepaliveTimeout: p.keepalive_timeout as number,
      drainTimeout: p.drain_timeout as number,
      unavailableWait: p.unavailable_wait as number,
    },
    isolates: {
      minWorkers: i.min_workers as number,
      maxWorkers: i.max_workers as number,
      freePoolRatio: i.free_pool_ratio as number,
      idleTimeout: i.idle_timeout as number,
      clusterCpuPctTarget: i.cluster_cpu_pct_target as number,
      clusterMemoryPctTarget: i.cluster_memory_pct_target as number,
      isolatesPerProcess: i.isolates_per_process as number,
      memoryLimit: i.memory_limit as number,
      cpuLimit: i.cpu_limit as number,
      wallLimit: i.wall_limit as number,
      queueTimeout: i.queue_timeout as number,
      allowNet: i.allow_net as string[],
    },
    cache: {
      dir: c.dir ? path(c.dir) : "",
      maxSize: c.max_size as number,
      s3Endpoint: String(c.s3_endpoint),
      s3Bucket: String(c.s3_bucket),
      s3Region: String(c.s3_region),
      s3AccessKey: String(c.s3_access_key),
      s3SecretKey: String(c.s3_secret_key),
    },
    telemetry: {
      otlpEndpoint: String(t.otlp_endpoint),
      otlpUser: String(t.otlp_user),
      otlpPassword: String(t.otlp_password),
      otlpHeaders: t.otlp_headers as Record<string, string>,
      sampleRatio: t.sample_ratio as number,
      serviceName: String(t.service_name),
      metricsToken: String(t.metrics_token),
    },
    env: envOut,
  };
  if (config.isolates.minWorkers > config.isolates.maxWorkers) {
    throw new ConfigError(
      `${
        where("isolates", "min_workers")
      }: [isolates] min_workers (${config.isolates.minWorkers}) must not exceed max_workers (${config.isolates.maxWorkers})`,
    );
  }
  checkLogLimits(config, where);
  checkTelemetry(config, where);
  if (config.docker.buildMemory > 0 && config.docker.buildMemory < 6 << 20) {
    throw new ConfigError(
      `${
        where("docker", "build_memory")
      }: [docker] build_memory must be at least "6m" (Docker's minimum), got ${config.docker.buildMemory} bytes`,
    );
  }
  return config;
}

/** The collector's URL and credentials, the metrics token. */
function checkTelemetry(
  config: ResolvedConfig,
  where: (section: string, key?: string) => string,
): void {
  const t = config.telemetry;
  const fail = (key: string, msg: string) => {
    throw new ConfigError(
      `${where("telemetry", key)}: [telemetry] ${key} ${msg}`,
    );
  };
  if (t.otlpEndpoint) {
    let url: URL | undefined;
    try {
      url = new URL(t.otlpEndpoint);
    } catch { /* reported below */ }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
      fail(
        "otlp_endpoint",
        `must be an http:// or https:// URL such as "https://otlp.example.com", got ${
          JSON.stringify(t.otlpEndpoint)
        }`,
      );
    }
  }
  if (Boolean(t.otlpUser) !== Boolean(t.otlpPassword)) {
    fail(
      t.otlpUser ? "otlp_password" : "otlp_user",
      "must be set together with " +
        (t.otlpUser ? "otlp_user" : "otlp_password") + " (basic auth)",
    );
  }
  if (t.otlpUser.includes(":")) {
    fail(
      "otlp_user",
      `must not contain ":" (basic auth), got ${JSON.stringify(t.otlpUser)}`,
    );
  }
  for (const [name, value] of Object.entries(t.otlpHeaders)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n]/.test(value)) {
      fail(
        "otlp_headers",
        `has a bad header ${
          JSON.stringify(name)
        }: names are tokens, values one line`,
      );
    }
  }
  if (!/^[\w.-]{1,100}$/.test(t.serviceName)) {
    fail(
      "service_name",
      `must be 1-100 letters, digits, ".", "_" or "-", got ${
        JSON.stringify(t.serviceName)
      }`,
    );
  }
  if (t.metricsToken && t.metricsToken.length < 16) {
    fail(
      "metrics_token",
      "must be at least 16 characters (or empty to disable /daemon/metrics)",
    );
  }
}

/** Docker's json-file driver refuses a file under 1 KiB or zero files. */
function checkLogLimits(
  config: ResolvedConfig,
  where: (section: string, key?: string) => string,
): void {
  const d = config.docker;
  if (d.logMaxSize < 1024) {
    throw new ConfigError(
      `${
        where("docker", "log_max_size")
      }: [docker] log_max_size must be at least "1k", got ${d.logMaxSize} bytes`,
    );
  }
  if (d.logMaxFiles < 1 || d.logMaxFiles > 100) {
    throw new ConfigError(
      `${
        where("docker", "log_max_files")
      }: [docker] log_max_files must be from 1 to 100, got ${d.logMaxFiles}`,
    );
  }
  if (d.logMaxSize * d.logMaxFiles > d.logMaxTotal) {
    throw new ConfigError(
      `${
        where("docker", "log_max_total")
      }: [docker] log_max_total (${d.logMaxTotal} bytes) must hold log_max_size x log_max_files (${
        d.logMaxSize * d.logMaxFiles
      } bytes); raise it or lower those`,
    );
  }
}

/** Replaces a leading `~` with the home directory. */
export function expandHome(path: string, home: string): string {
  if (path === "~") return home;
  if (path.startsWith("~/")) return `${home}${path.slice(1)}`;
  return path;
}

function convert(
  value: unknown,
  schema: KeySchema,
  label: () => string,
): unknown {
  const bad = (want: string) =>
    new ConfigError(`${label()} must be ${want}, got ${describe(value)}`);
  switch (schema.type) {
    case "string":
      if (typeof value !== "string") throw bad("a string");
      return value;
    case "bool":
      if (typeof value !== "boolean") throw bad("true or false");
      return value;
    case "port":
      if (
        !Number.isInteger(value) || (value as number) < 0 ||
        (value as number) > 65535
      ) {
        throw bad("a port number from 0 to 65535");
      }
      return value;
    case "int":
      if (!Number.isInteger(value) || (value as number) < 0) {
        throw bad("a whole number >= 0");
      }
      return value;
    case "ratio":
      if (typeof value !== "number" || value < 0 || value > 1) {
        throw bad("a number from 0 to 1");
      }
      return value;
    case "cpus":
      if (typeof value !== "number" || value < 0 || value > 1024) {
        throw bad("a number of cores such as 1 or 1.5 (0: all but one)");
      }
      return value;
    case "duration": {
      const ms = typeof value === "string" ? parseDuration(value) : undefined;
      if (ms === undefined) {
        throw bad(`a duration such as "500ms", "30s", "5m"`);
      }
      return ms;
    }
    case "size": {
      const bytes = typeof value === "string"
        ? parseSize(value)
        : Number.isInteger(value) && (value as number) >= 0
        ? value
        : undefined;
      if (bytes === undefined) {
        throw bad(`a size such as "512K", "100M", "1G" or a number of bytes`);
      }
      return bytes;
    }
    case "table":
      if (
        !isTable(value) ||
        !Object.values(value).every((v) => typeof v === "string")
      ) {
        throw bad('a table of strings such as { x-api-key = "..." }');
      }
      return { ...value };
    case "strings":
      if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
        throw bad("an array of strings");
      }
      return value;
  }
}

function isTable(v: unknown): v is Raw {
  return typeof v === "object" && v !== null && !Array.isArray(v) &&
    !(v instanceof Date);
}

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return "an array";
  if (v instanceof Date) return "a date";
  if (typeof v === "object" && v !== null) return "a table";
  return `${typeof v} ${String(v)}`;
}

/**
 * The 1-based line of `key` inside `[section]` (or of the header itself).
 * Section "" is the top level, before any header.
 */
export function findLine(text: string, section: string, key?: string): number {
  const lines = text.split("\n");
  let current = "";
  let headerLine = 1;
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    // [section], [[section]], [ "section" ] and sub-tables [section.key]
    const header = /^\[\[?\s*([^\]]+?)\s*\]/.exec(line);
    if (header) {
      current = header[1]!.replace(/["']/g, "").replace(/\s*\.\s*/g, ".");
      if (current === section) headerLine = n + 1;
      if (key !== undefined && current === `${section}.${key}`) return n + 1;
      continue;
    }
    if (current === section && key !== undefined) {
      const k = /^(["']?)([^"'=\s]+)\1\s*=/.exec(line);
      if (k && k[2] === key) return n + 1;
    }
  }
  return headerLine;
}

/** Where to look for config.toml: the flag, then MYPAAS_CONFIG, then ~/_mypaas. */
export function configPath(
  flag: string | undefined,
  envVar: string | undefined,
  home: string,
): string {
  return flag ?? envVar ?? `${home}/_mypaas/config.toml`;
}

/**
 * Loads the config. A missing file at the default place gives the embedded
 * defaults; a missing file that was named explicitly is an error.
 */
export async function loadConfig(
  opts: {
    flag?: string | undefined;
    envVar?: string | undefined;
    home: string;
  },
): Promise<ResolvedConfig> {
  // An empty MYPAAS_CONFIG counts as unset, as shells make it easy to have.
  const envVar = opts.envVar || undefined;
  const path = configPath(opts.flag, envVar, opts.home);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (
      err instanceof Deno.errors.NotFound && opts.flag === undefined &&
      envVar === undefined
    ) {
      return resolveConfig("", { home: opts.home });
    }
    if (err instanceof Deno.errors.NotFound) {
      throw new ConfigError(
        `config file "${path}" does not exist; create it with "mypaas server init" or fix the path`,
      );
    }
    throw err;
  }
  return resolveConfig(text, { home: opts.home, file: path });
}
