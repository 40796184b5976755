/**
 * A real S3 server on loopback for the cache tests (s3rver from npm, in
 * this process): a temp dir, a free port, `stop()` and `start()` again on
 * the same port and dir (the bucket survives), `dropBucket()`.
 */
import S3rver from "s3rver";
import type { S3Options } from "../lib/cache/s3_tier.ts";

export const S3_KEY = "S3RVER";

export class S3Server {
  #server: S3rver | null = null;
  port = 0;
  private constructor(readonly dir: string, readonly bucket: string) {}

  static async start(bucket = "mypaas-test"): Promise<S3Server> {
    const s = new S3Server(await Deno.makeTempDir(), bucket);
    await s.start();
    return s;
  }

  async start(): Promise<void> {
    const server = new S3rver({
      port: this.port,
      address: "127.0.0.1",
      silent: true,
      directory: this.dir,
      configureBuckets: [{ name: this.bucket, configs: [] }],
    });
    const addr = await server.run() as { port: number };
    this.port = addr.port;
    this.#server = server;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Client options for this server (`patch` changes some). */
  options(patch: Partial<S3Options> = {}): S3Options {
    return {
      endpoint: this.endpoint,
      bucket: this.bucket,
      region: "us-east-1",
      accessKey: S3_KEY,
      secretKey: S3_KEY,
      ...patch,
    };
  }

  /** The objects in the bucket (file names s3rver keeps). */
  async objects(prefix = ""): Promise<string[]> {
    const out: string[] = [];
    const root = `${this.dir}/${this.bucket}`;
    const walk = async (sub: string) => {
      for await (const e of Deno.readDir(`${root}/${sub}`)) {
        const rel = sub ? `${sub}/${e.name}` : e.name;
        if (e.isDirectory) await walk(rel);
        else if (e.name.endsWith("._S3rver_object")) {
          out.push(rel.slice(0, -"._S3rver_object".length));
        }
      }
    };
    await walk("").catch(() => {});
    return out.filter((k) => k.startsWith(prefix)).sort();
  }

  /** Removes the bucket with everything in it, under the store's feet. */
  async dropBucket(): Promise<void> {
    await Deno.remove(`${this.dir}/${this.bucket}`, { recursive: true });
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = null;
    if (s) await s.close();
  }

  async dispose(): Promise<void> {
    await this.stop();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
