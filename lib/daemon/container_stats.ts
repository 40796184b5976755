/**
 * @module
 * The sampler's container source: this daemon's running containers (by
 * the owner label) with their CPU time, memory and restart count, read
 * from Docker's stats and inspect calls in parallel, off any request.
 */
import type { ContainerRuntime } from "../docker/mod.ts";
import type { ContainerSample } from "../metrics/sampler.ts";
import { LABEL } from "../services/mod.ts";

/** Samples this daemon's (`owner`) running containers. */
export function containerSource(
  runtime: ContainerRuntime,
  owner: string,
): () => Promise<ContainerSample[]> {
  return async () => {
    const list = await runtime.list({ [LABEL.owner]: owner });
    const running = list.filter((c) =>
      c.state === "running" && c.labels[LABEL.service]
    );
    const samples = await Promise.all(running.map(async (c) => {
      try {
        const [details, stats] = await Promise.all([
          runtime.inspect(c.id),
          runtime.stats(c.id),
        ]);
        return {
          service: c.labels[LABEL.service]!,
          id: c.id,
          name: c.name,
          cpuSeconds: stats.cpuSeconds,
          memoryBytes: stats.memory,
          restarts: details?.restartCount ?? 0,
        };
      } catch {
        return undefined; // gone between list and stats
      }
    }));
    return samples.filter((s): s is ContainerSample => s !== undefined);
  };
}
