/**
 * @module
 * The host's CPU time and memory from /proc, and the data dir's file system
 * from `df` (Deno has no statfs; run at most once a minute).
 */
import type { HostSample } from "./sampler.ts";

/** USER_HZ: /proc/stat counts in 1/100 s on Linux. */
const TICKS = 100;

/** A host source for the sampler; `dataDir` is the file system to watch. */
export function hostSource(
  dataDir: string,
): () => Promise<HostSample | undefined> {
  let disk = { free: 0, total: 0, at: -Infinity };
  return async () => {
    let stat: string, meminfo: string;
    try {
      stat = await Deno.readTextFile("/proc/stat");
      meminfo = await Deno.readTextFile("/proc/meminfo");
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined; // no /proc
      throw err;
    }
    const n = (stat.split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(
      Number,
    );
    const total = n.reduce((a, b) => a + b, 0);
    const idle = (n[3] ?? 0) + (n[4] ?? 0);
    const kb = (key: string) =>
      Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(meminfo)?.[1] ?? 0) *
      1024;
    if (Date.now() - disk.at > 60_000) disk = await df(dataDir);
    return {
      cpuSeconds: (total - idle) / TICKS,
      memoryBytes: kb("MemTotal") - kb("MemAvailable"),
      memoryTotalBytes: kb("MemTotal"),
      diskFreeBytes: disk.free,
      diskTotalBytes: disk.total,
    };
  };
}

async function df(
  dir: string,
): Promise<{ free: number; total: number; at: number }> {
  const out = await new Deno.Command("df", {
    args: ["-Pk", dir],
    stdout: "piped",
    stderr: "null",
  }).output();
  const row = new TextDecoder().decode(out.stdout).trim().split("\n")[1] ?? "";
  const f = row.split(/\s+/);
  return {
    total: Number(f[1] ?? 0) * 1024,
    free: Number(f[3] ?? 0) * 1024,
    at: Date.now(),
  };
}
