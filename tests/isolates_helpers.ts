/**
 * Helpers of the isolate tests: a pool on real worker processes in a temp
 * dir, and artifacts written from source text.
 */
import { silentLogger } from "../lib/log.ts";
import { denyNetList } from "../lib/isolates/net_policy.ts";
import {
  type IsolateLog,
  IsolatePool,
  type PoolOptions,
} from "../lib/isolates/pool.ts";

export const RUNTIME_DIR = new URL("../lib/isolates/runtime", import.meta.url)
  .pathname;

/** A started pool in a fresh temp dir; `close()` stops it and cleans up. */
export async function testPool(
  over: Partial<Omit<PoolOptions, "process">> & {
    process?: Partial<PoolOptions["process"]>;
  } = {},
) {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-iso-" });
  const bundles = `${dir}/bundles`;
  await Deno.mkdir(bundles);
  const logs: IsolateLog[] = [];
  const pool = new IsolatePool({
    minWorkers: 2,
    maxWorkers: 6,
    freePoolRatio: 0.5,
    idleTimeoutMs: 60_000,
    isolatesPerProcess: 2,
    cpuPctTarget: 1.1,
    memPctTarget: 1.1,
    wallLimitMs: 10_000,
    concurrency: 8,
    queueTimeoutMs: 3000,
    hostLoad: () => ({ cpu: 0, mem: 0 }),
    log: silentLogger,
    onLog: (l) => logs.push(l),
    ...over,
    process: {
      denoPath: Deno.execPath(),
      runtimeDir: RUNTIME_DIR,
      socketDir: `${dir}/sockets`,
      denoDir: `${dir}/deno_dir`,
      readPaths: [bundles],
      denyNet: denyNetList(),
      memoryLimit: 64 * 2 ** 20,
      cpuLimitMs: 500,
      loadTimeoutMs: 5000,
      ...over.process,
    },
  });
  await pool.start();
  let n = 0;
  return {
    pool,
    dir,
    logs,
    /** Writes an artifact and returns a target for it. */
    async artifact(source: string, env: Record<string, string> = {}) {
      const path = `${bundles}/a${++n}.js`;
      await Deno.writeTextFile(path, source);
      return { key: `fn${n}@1`, url: `file://${path}`, env };
    },
    async close() {
      await pool.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Sends one request through the pool and reads the body. */
export async function call(
  pool: IsolatePool,
  target: { key: string; url: string; env: Record<string, string> },
  path = "/",
  instanceId?: string,
): Promise<{ status: number; text: string }> {
  const res = await pool.dispatch(
    target,
    new Request(`http://fn.test${path}`),
    { clientIp: "127.0.0.1", instanceId: instanceId ?? null },
  );
  return { status: res.status, text: await res.text() };
}

/** A function that answers with the request's body (once it is whole). */
export const ECHO =
  `export default { fetch: async (req) => new Response(await req.text()) };`;

/**
 * Sends a request to an ECHO target whose body stays open: it is in
 * flight until `finish()` sends the rest. `started` resolves once an
 * isolate of `target` holds it.
 */
export function holdRequest(
  pool: IsolatePool,
  target: { key: string; url: string; env: Record<string, string> },
) {
  const body = new TransformStream<Uint8Array, Uint8Array>();
  const writer = body.writable.getWriter();
  const res = pool.dispatch(
    target,
    new Request("http://fn.test/", {
      method: "POST",
      body: body.readable,
      duplex: "half",
    } as RequestInit),
    { clientIp: "127.0.0.1" },
  );
  const started = until(
    () => pool.isolates(target.key).some((i) => i.inflight > 0),
    { what: `an isolate of ${target.key} to take the request` },
  );
  return {
    started,
    async finish(text: string) {
      await writer.write(new TextEncoder().encode(text));
      await writer.close();
      const r = await res;
      return { status: r.status, text: await r.text() };
    },
  };
}

import { until } from "./_until.ts";
export { until };
