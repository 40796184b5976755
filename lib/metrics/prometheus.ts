/**
 * @module
 * The Prometheus text exposition format (version 0.0.4) of the registry's
 * totals and the sampler's newest container and host samples: what
 * `GET /daemon/metrics` answers.
 */
import { LATENCY_BOUNDS, type MetricsRegistry } from "./registry.ts";
import type { ContainerSample, HostSample } from "./sampler.ts";

/** The content type of the exposition format. */
export const PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** What the page shows. */
export interface PrometheusSources {
  registry: MetricsRegistry;
  containers?: () => readonly ContainerSample[];
  host?: () => HostSample | undefined;
  /** Spans and log records the exporter dropped (a full queue). */
  dropped?: () => { spans: number; logs: number };
}

/** A label value escaped as the format asks (backslash, quote, newline). */
function esc(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labels(pairs: Record<string, string>): string {
  const parts = Object.entries(pairs).map(([k, v]) => `${k}="${esc(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** A number as the format writes it (+Inf, NaN). */
function num(v: number): string {
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return Number.isNaN(v) ? "NaN" : String(v);
}

/** Renders every metric family. */
export function renderPrometheus(src: PrometheusSources): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  const line = (name: string, l: Record<string, string>, v: number) => {
    out.push(`${name}${labels(l)} ${num(v)}`);
  };
  const targets = src.registry.all().map((c) => {
    const i = c.target.indexOf(":");
    return {
      c,
      l: { service: c.target.slice(i + 1), kind: c.target.slice(0, i) },
    };
  });

  family(
    "mypaas_http_requests_total",
    "counter",
    "Requests answered, by status code.",
  );
  for (const { c, l } of targets) {
    for (const [code, n] of c.codes) {
      line("mypaas_http_requests_total", { ...l, code: String(code) }, n);
    }
  }
  family(
    "mypaas_http_request_duration_seconds",
    "histogram",
    "Time from the request to the answer's head.",
  );
  for (const { c, l } of targets) {
    let cum = 0;
    for (let i = 0; i < c.buckets.length; i++) {
      cum += c.buckets[i]!;
      const le = i < LATENCY_BOUNDS.length ? String(LATENCY_BOUNDS[i]) : "+Inf";
      line("mypaas_http_request_duration_seconds_bucket", { ...l, le }, cum);
    }
    line("mypaas_http_request_duration_seconds_sum", l, c.latencySum);
    line("mypaas_http_request_duration_seconds_count", l, c.requests);
  }
  family(
    "mypaas_http_request_bytes_total",
    "counter",
    "Request body bytes (declared lengths).",
  );
  for (const { c, l } of targets) {
    line("mypaas_http_request_bytes_total", l, c.bytesIn);
  }
  family(
    "mypaas_http_response_bytes_total",
    "counter",
    "Response body bytes (declared lengths).",
  );
  for (const { c, l } of targets) {
    line("mypaas_http_response_bytes_total", l, c.bytesOut);
  }
  family(
    "mypaas_http_open_requests",
    "gauge",
    "Requests waiting for their answer's head.",
  );
  for (const { c, l } of targets) line("mypaas_http_open_requests", l, c.open);
  family(
    "mypaas_isolate_cold_starts_total",
    "counter",
    "Requests that waited for their function to load into an isolate.",
  );
  for (const { c, l } of targets) {
    if (l.kind === "function") {
      line(
        "mypaas_isolate_cold_starts_total",
        { function: l.service },
        c.coldStarts,
      );
    }
  }

  const containers = src.containers?.() ?? [];
  family(
    "mypaas_container_cpu_seconds_total",
    "counter",
    "CPU time of a service's container.",
  );
  for (const k of containers) {
    line("mypaas_container_cpu_seconds_total", {
      service: k.service,
      container: k.name,
    }, k.cpuSeconds);
  }
  family(
    "mypaas_container_memory_bytes",
    "gauge",
    "Memory use of a service's container.",
  );
  for (const k of containers) {
    line("mypaas_container_memory_bytes", {
      service: k.service,
      container: k.name,
    }, k.memoryBytes);
  }
  family(
    "mypaas_container_restarts_total",
    "counter",
    "Restarts of a container by its restart policy.",
  );
  for (const k of containers) {
    line("mypaas_container_restarts_total", {
      service: k.service,
      container: k.name,
    }, k.restarts);
  }

  const host = src.host?.();
  if (host) {
    family(
      "mypaas_host_cpu_seconds_total",
      "counter",
      "CPU time all cores spent busy.",
    );
    line("mypaas_host_cpu_seconds_total", {}, host.cpuSeconds);
    family("mypaas_host_memory_bytes", "gauge", "Memory in use on the host.");
    line("mypaas_host_memory_bytes", {}, host.memoryBytes);
    family("mypaas_host_memory_total_bytes", "gauge", "Memory of the host.");
    line("mypaas_host_memory_total_bytes", {}, host.memoryTotalBytes);
    family(
      "mypaas_data_dir_free_bytes",
      "gauge",
      "Free space on the data dir's file system.",
    );
    line("mypaas_data_dir_free_bytes", {}, host.diskFreeBytes);
    family(
      "mypaas_data_dir_size_bytes",
      "gauge",
      "Size of the data dir's file system.",
    );
    line("mypaas_data_dir_size_bytes", {}, host.diskTotalBytes);
  }

  const mem = Deno.memoryUsage();
  family(
    "mypaas_process_resident_memory_bytes",
    "gauge",
    "Resident memory of the daemon.",
  );
  line("mypaas_process_resident_memory_bytes", {}, mem.rss);
  family(
    "mypaas_process_heap_used_bytes",
    "gauge",
    "JS heap in use in the daemon.",
  );
  line("mypaas_process_heap_used_bytes", {}, mem.heapUsed);

  if (src.dropped) {
    const d = src.dropped();
    family(
      "mypaas_telemetry_dropped_total",
      "counter",
      "Spans and log records dropped because the export queue was full.",
    );
    line("mypaas_telemetry_dropped_total", { signal: "spans" }, d.spans);
    line("mypaas_telemetry_dropped_total", { signal: "logs" }, d.logs);
  }
  return out.join("\n") + "\n";
}
