/**
 * @module
 * The one description of config.toml: every section, key, type, default and
 * a one-line explanation, and whether a reload (SIGHUP, file change) can
 * apply it. `load.ts` validates against it, the daemon's reload keeps the
 * running value of every `restart` key, `config.example.toml` and README's
 * Configuration section are checked against it by a test, and `server init`
 * writes from it.
 */

/** How a config value is written and what it resolves to. */
export type KeyType =
  | "string"
  | "bool"
  | "port"
  | "int"
  | "ratio"
  | "cpus"
  | "duration"
  | "size"
  | "strings"
  | "table";

/** One key of a section. */
export interface KeySchema {
  type: KeyType;
  /** The default, as it would be written in config.toml. */
  default: string | number | boolean | string[] | Record<string, string>;
  doc: string;
  /**
   * A reload cannot apply it (it binds a listener, names a socket or a
   * directory, or is handed to worker processes at spawn): the running
   * daemon keeps its value and logs it as needing a restart.
   */
  restart?: true;
}

/** What `config.example.toml` and `server init` write above a key. */
export function keyComment(schema: KeySchema): string {
  return schema.restart ? `${schema.doc}; needs a restart` : schema.doc;
}

/** The keys of `section` a reload cannot apply, as config.toml spells them. */
export function restartKeys(section: SectionName): string[] {
  return Object.entries(SCHEMA[section] as Record<string, KeySchema>)
    .filter(([, k]) => k.restart).map(([name]) => name);
}

/** Sections and their keys; `[env]` is free-form and not listed. */
export const SCHEMA = {
  server: {
    domain: {
      type: "string",
      default: "localhost",
      doc: "admin domain: /daemon/* on it is the daemon's API",
    },
    data_dir: {
      type: "string",
      restart: true,
      default: "~/_mypaas",
      doc: "keys, certificates, releases, cache, audit log",
    },
    bind: {
      type: "string",
      restart: true,
      default: "0.0.0.0",
      doc: "address the proxy listens on",
    },
    http_port: {
      type: "port",
      restart: true,
      default: 8080,
      doc: "plain HTTP listener (80 in production; 0 disables)",
    },
    https_port: {
      type: "port",
      restart: true,
      default: 8443,
      doc: "HTTPS listener (443 in production; 0 disables)",
    },
    control_socket: {
      type: "string",
      restart: true,
      default: "~/_mypaas/mypaas.sock",
      doc: "Unix socket of the local CLI",
    },
    max_upload: { type: "size", default: "100M", doc: "largest push upload" },
    max_upload_files: {
      type: "int",
      default: 20000,
      doc: "most files one upload may hold",
    },
    max_unpacked: {
      type: "size",
      default: "1G",
      doc: "largest total size one upload may unpack to",
    },
    keep_releases: {
      type: "int",
      default: 5,
      doc: "images/bundles kept per service for rollback",
    },
  },
  acme: {
    email: {
      type: "string",
      restart: true,
      default: "",
      doc: "ACME account email; empty disables ACME (self-signed only)",
    },
    directory: {
      type: "string",
      restart: true,
      default: "https://acme-v02.api.letsencrypt.org/directory",
      doc: "ACME directory URL",
    },
    ca_file: {
      type: "string",
      restart: true,
      default: "",
      doc: "extra CA to trust for the ACME server (pebble in tests)",
    },
    renew_fraction: {
      type: "ratio",
      restart: true,
      default: 0.33,
      doc: "renew when this fraction of a certificate's lifetime is left",
    },
  },
  docker: {
    socket: {
      type: "string",
      restart: true,
      default: "/var/run/docker.sock",
      doc: "Docker Engine API socket",
    },
    network: {
      type: "string",
      restart: true,
      default: "mypaas",
      doc: "bridge network the daemon's containers join",
    },
    volume_root: {
      type: "string",
      default: "~",
      doc: "host paths of mypaas.volume must lie under this directory",
    },
    log_max_size: {
      type: "size",
      default: "10m",
      doc:
        "a container's log file is rotated at this size (json-file max-size)",
    },
    log_max_files: {
      type: "int",
      default: 3,
      doc: "log files kept per container, the current one included (max-file)",
    },
    log_max_total: {
      type: "size",
      default: "100m",
      doc: "most log one container may keep; caps mypaas.logs=SIZE COUNT",
    },
    build_cpus: {
      type: "cpus",
      default: 0,
      doc:
        "CPU cores a build may use (a CFS quota; 0: all but one core, at least one)",
    },
    build_memory: {
      type: "size",
      default: "2g",
      doc: "memory a build's RUN steps may use; past it the build is killed",
    },
    build_timeout: {
      type: "duration",
      default: "30m",
      doc: "longest a push may wait for the build queue and build together",
    },
  },
  proxy: {
    max_body: {
      type: "size",
      default: "100M",
      doc: "largest request body (413 beyond)",
    },
    max_header: {
      type: "size",
      default: "16K",
      doc: "largest request head (431 beyond)",
    },
    upstream_timeout: {
      type: "duration",
      default: "60s",
      doc: "longest wait for an upstream's response head (504)",
    },
    client_timeout: {
      type: "duration",
      default: "30s",
      doc: "longest a slow client may take to send its request (408)",
    },
    header_timeout: {
      type: "duration",
      default: "15s",
      doc:
        "close a connection that sends no complete request head in this time",
    },
    keepalive_timeout: {
      type: "duration",
      default: "75s",
      doc:
        "close a keep-alive connection with no request and no reply this long",
    },
    drain_timeout: {
      type: "duration",
      default: "30s",
      doc: "how long a retired container may finish in-flight requests",
    },
    unavailable_wait: {
      type: "duration",
      default: "10s",
      doc: "how long a request waits for a healthy replica (503 after)",
    },
  },
  isolates: {
    min_workers: {
      type: "int",
      restart: true,
      default: 4,
      doc: "isolates kept booted at least (standby + active)",
    },
    max_workers: {
      type: "int",
      restart: true,
      default: 10,
      doc: "isolates at most",
    },
    free_pool_ratio: {
      type: "ratio",
      default: 0.5,
      doc: "keep free >= (free + assigned) x ratio standby isolates",
    },
    idle_timeout: {
      type: "duration",
      default: "60s",
      doc: "stop an isolate after this long with no request",
    },
    cluster_cpu_pct_target: {
      type: "ratio",
      default: 0.6,
      doc: "above this host CPU use no new isolate starts",
    },
    cluster_memory_pct_target: {
      type: "ratio",
      default: 0.6,
      doc: "above this host memory use no new isolate starts",
    },
    isolates_per_process: {
      type: "int",
      restart: true,
      default: 16,
      doc: "isolates hosted by one worker process",
    },
    memory_limit: {
      type: "size",
      restart: true,
      default: "128M",
      doc: "heap cap of one isolate",
    },
    cpu_limit: {
      type: "duration",
      restart: true,
      default: "1s",
      doc: "CPU time one request may use",
    },
    wall_limit: {
      type: "duration",
      default: "60s",
      doc: "wall time one request may take",
    },
    queue_timeout: {
      type: "duration",
      default: "10s",
      doc:
        "how long a request or load check waits while every isolate is busy (503 after)",
    },
    allow_net: {
      type: "strings",
      restart: true,
      default: [],
      doc:
        "private CIDRs/hosts (or this host's own addresses) isolates and the bundler may reach anyway",
    },
  },
  cache: {
    dir: {
      type: "string",
      restart: true,
      default: "",
      doc: "local cache directory (default: DATA_DIR/cache)",
    },
    max_size: {
      type: "size",
      default: "1G",
      doc: "local cache size before least-recently-used eviction",
    },
    s3_endpoint: {
      type: "string",
      default: "",
      doc: "S3-compatible endpoint URL; empty keeps the cache local",
    },
    s3_bucket: {
      type: "string",
      default: "mypaas",
      doc: "bucket for the second cache tier",
    },
    s3_region: { type: "string", default: "us-east-1", doc: "bucket region" },
    s3_access_key: { type: "string", default: "", doc: "S3 access key" },
    s3_secret_key: { type: "string", default: "", doc: "S3 secret key" },
  },
  telemetry: {
    otlp_endpoint: {
      type: "string",
      restart: true,
      default: "",
      doc:
        "OTLP/HTTP base URL (traces to /v1/traces, logs to /v1/logs); empty exports nothing",
    },
    otlp_user: {
      type: "string",
      restart: true,
      default: "",
      doc: "basic-auth user for the collector (with otlp_password)",
    },
    otlp_password: {
      type: "string",
      restart: true,
      default: "",
      doc: "basic-auth password for the collector",
    },
    otlp_headers: {
      type: "table",
      restart: true,
      default: {},
      doc: 'extra headers sent to the collector, e.g. { x-api-key = "..." }',
    },
    sample_ratio: {
      type: "ratio",
      restart: true,
      default: 1,
      doc:
        "share of new traces recorded (0-1); a sampled client traceparent is kept",
    },
    service_name: {
      type: "string",
      restart: true,
      default: "mypaas",
      doc: "service.name of the daemon's spans and log records",
    },
    metrics_token: {
      type: "string",
      default: "",
      doc:
        "bearer token of GET /daemon/metrics (Prometheus); empty disables it",
    },
  },
} as const satisfies Record<string, Record<string, KeySchema>>;

/** The section names of config.toml, `env` included. */
export type SectionName = keyof typeof SCHEMA;
