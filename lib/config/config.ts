/**
 * @module
 * The typed, fully defaulted configuration the rest of mypaas reads. Paths
 * are absolute, durations are milliseconds and sizes are bytes.
 */

/** config.toml after validation and defaulting. */
export interface ResolvedConfig {
  /** The file it was read from, or null for embedded defaults. */
  file: string | null;
  server: {
    domain: string;
    dataDir: string;
    bind: string;
    httpPort: number;
    httpsPort: number;
    controlSocket: string;
    maxUpload: number;
    maxUploadFiles: number;
    maxUnpacked: number;
    keepReleases: number;
  };
  acme: {
    email: string;
    directory: string;
    caFile: string;
    renewFraction: number;
  };
  docker: {
    socket: string;
    network: string;
    volumeRoot: string;
    /** Bytes at which a container's json-file log rotates. */
    logMaxSize: number;
    /** Log files per container (at least 1). */
    logMaxFiles: number;
    /** Most bytes `mypaas.logs` may ask for: SIZE x COUNT. */
    logMaxTotal: number;
    /** Cores a build may use (0: all but one, at least one). */
    buildCpus: number;
    /** Bytes a build's RUN steps may use (0: no limit). */
    buildMemory: number;
    /** Ms a push may wait for the build queue and build together. */
    buildTimeout: number;
  };
  proxy: {
    maxBody: number;
    maxHeader: number;
    upstreamTimeout: number;
    clientTimeout: number;
    headerTimeout: number;
    keepaliveTimeout: number;
    drainTimeout: number;
    unavailableWait: number;
  };
  isolates: {
    minWorkers: number;
    maxWorkers: number;
    freePoolRatio: number;
    idleTimeout: number;
    clusterCpuPctTarget: number;
    clusterMemoryPctTarget: number;
    isolatesPerProcess: number;
    memoryLimit: number;
    cpuLimit: number;
    wallLimit: number;
    queueTimeout: number;
    allowNet: string[];
  };
  cache: {
    dir: string;
    maxSize: number;
    s3Endpoint: string;
    s3Bucket: string;
    s3Region: string;
    s3AccessKey: string;
    s3SecretKey: string;
  };
  telemetry: {
    otlpEndpoint: string;
    otlpUser: string;
    otlpPassword: string;
    otlpHeaders: Record<string, string>;
    sampleRatio: number;
    serviceName: string;
    metricsToken: string;
  };
  /** Secrets for `mypaas.env=KEY`. */
  env: Record<string, string>;
}

/** Well-known paths below the data dir. */
export function dataPaths(config: ResolvedConfig) {
  const d = config.server.dataDir;
  return {
    authorizedKeys: `${d}/authorized_keys`,
    certs: `${d}/certs`,
    acme: `${d}/acme`,
    releases: `${d}/releases`,
    functions: `${d}/functions`,
    logs: `${d}/logs`,
    audit: `${d}/audit.log`,
    cache: config.cache.dir || `${d}/cache`,
    tmp: `${d}/tmp`,
    metrics: `${d}/metrics`,
  };
}
