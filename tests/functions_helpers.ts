/**
 * Helpers of the function tests: a FunctionsPlatform on a temp data dir,
 * optionally behind the real proxy.
 */
import { resolveConfig } from "../lib/config/mod.ts";
import type { ResolvedConfig } from "../lib/config/mod.ts";
import { FunctionsPlatform } from "../lib/daemon/functions.ts";
import type { FunctionRoutes } from "../lib/functions/target.ts";
import { makeLogger, silentLogger } from "../lib/log.ts";

export const FIXTURES = new URL("./fixtures/functions", import.meta.url)
  .pathname;

/**
 * Config for a test data dir. The host load gate is off (targets 1.0): the
 * parallel suite loads the host; the gate has its own test on a fake load.
 */
export function functionsConfig(
  dataDir: string,
  isolates = "",
): ResolvedConfig {
  return resolveConfig(
    `[server]
data_dir = "${dataDir}"
keep_releases = 3
[proxy]
unavailable_wait = "10s"
[isolates]
${isolates || "min_workers = 2\nmax_workers = 6\nisolates_per_process = 2"}
${
      isolates.includes("cluster_cpu")
        ? ""
        : "cluster_cpu_pct_target = 1.0\ncluster_memory_pct_target = 1.0"
    }
[env]
GREETING = "hello"
`,
    { home: dataDir },
  );
}

/** A started FunctionsPlatform; `close()` stops it and removes the data dir. */
export async function testFunctions(
  opts: { routes?: FunctionRoutes; isolates?: string; dataDir?: string } = {},
) {
  const dataDir = opts.dataDir ??
    await Deno.makeTempDir({ prefix: "mypaas-fn-" });
  const config = functionsConfig(dataDir, opts.isolates);
  const platform = new FunctionsPlatform(config, {
    log: Deno.env.get("FN_DEBUG") ? makeLogger("t", "debug") : silentLogger,
    denoPath: Deno.execPath(),
    ...(opts.routes ? { routes: opts.routes } : {}),
  });
  await platform.start();
  return {
    platform,
    dataDir,
    config,
    async stop() {
      await platform.stop();
    },
    async close() {
      await platform.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

/** Copies a fixture into a fresh temp dir (so a test may edit it). */
export async function fixtureCopy(name: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `mypaas-${name}-` });
  for await (const e of Deno.readDir(`${FIXTURES}/${name}`)) {
    await Deno.copyFile(`${FIXTURES}/${name}/${e.name}`, `${dir}/${e.name}`);
  }
  return dir;
}

/** Sends a request through a platform's own Host routing. */
export async function viaHost(
  platform: FunctionsPlatform,
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const req = new Request(url, { headers });
  const info = { remoteAddr: { hostname: "127.0.0.1" } };
  const res = await (platform.handleDeployId(req, info) ??
    platform.handleByHost(req, info) ??
    Promise.resolve(new Response("no route", { status: 404 })));
  return { status: res.status, text: await res.text() };
}
