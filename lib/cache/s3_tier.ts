/**
 * @module
 * The bucket tier through the `minio` client (path-style, any
 * S3-compatible server). The only file that imports minio: its types and
 * errors stay here. `check()` turns what the server says at start into one
 * `BucketState` value and a sentence.
 */
import { Buffer } from "node:buffer";
import * as Minio from "minio";
import { checkKey, type Tier } from "./tier.ts";

/** Where the bucket is and who we are there. */
export interface S3Options {
  endpoint: string;
  bucket: string;
  region: string;
  accessKey: string;
  secretKey: string;
}

/** What the bucket answered at the last check or write. */
export type BucketState =
  | "ok"
  | "unreachable"
  | "no-bucket"
  | "denied"
  | "error";

/** A bucket call that failed, classified. */
export class BucketError extends Error {
  constructor(readonly state: BucketState, message: string, cause: unknown) {
    super(message, { cause });
    this.name = "BucketError";
  }
}

const DENIED = new Set([
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "AccessDenied",
  "InvalidToken",
]);

/** The bucket tier. */
export class S3Tier implements Tier {
  readonly #client: Minio.Client;
  readonly where: string;

  constructor(readonly options: S3Options) {
    let url: URL;
    try {
      url = new URL(options.endpoint);
    } catch {
      throw new TypeError(
        `[cache] s3_endpoint must be a URL like "http://127.0.0.1:9000", got "${options.endpoint}"`,
      );
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(
        `[cache] s3_endpoint must start with http:// or https://, got "${options.endpoint}"`,
      );
    }
    const useSSL = url.protocol === "https:";
    this.#client = new Minio.Client({
      endPoint: url.hostname.replace(/^\[|\]$/g, ""),
      port: url.port ? Number(url.port) : useSSL ? 443 : 80,
      useSSL,
      accessKey: options.accessKey,
      secretKey: options.secretKey,
      region: options.region,
      pathStyle: true,
    });
    this.where = `bucket "${options.bucket}" at ${url.origin}`;
  }

  /** Maps a minio or network error to a BucketError. */
  classify(err: unknown): BucketError {
    if (err instanceof BucketError) return err;
    const e = err as { code?: string; message?: string };
    const code = e?.code ?? "";
    const msg = e?.message ?? String(err);
    if (code === "NoSuchBucket") {
      return new BucketError(
        "no-bucket",
        `${this.where} does not exist: create it or fix [cache] s3_bucket`,
        err,
      );
    }
    if (DENIED.has(code)) {
      return new BucketError(
        "denied",
        `${this.where} refused our credentials (${code}): fix [cache] s3_access_key/s3_secret_key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY`,
        err,
      );
    }
    if (
      /ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|EPIPE|socket|connect|Connection/i
        .test(code + " " + msg)
    ) {
      return new BucketError(
        "unreachable",
        `${this.where} is unreachable (${
          code || msg
        }): check [cache] s3_endpoint`,
        err,
      );
    }
    return new BucketError(
      "error",
      `${this.where} failed: ${code ? code + ": " : ""}${msg}`,
      err,
    );
  }

  async #call<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw this.classify(err);
    }
  }

  /** Whether the bucket exists and takes our credentials. */
  async check(): Promise<BucketState> {
    const exists = await this.#call(() =>
      this.#client.bucketExists(this.options.bucket)
    );
    if (!exists) {
      throw new BucketError(
        "no-bucket",
        `${this.where} does not exist: create it or fix [cache] s3_bucket`,
        null,
      );
    }
    return "ok";
  }

  get(key: string): Promise<Uint8Array | null> {
    checkKey(key);
    return this.#call(async () => {
      try {
        const stream = await this.#client.getObject(this.options.bucket, key);
        const chunks: Uint8Array[] = [];
        for await (const c of stream) chunks.push(c as Uint8Array);
        return new Uint8Array(Buffer.concat(chunks));
      } catch (err) {
        if ((err as { code?: string }).code === "NoSuchKey") return null;
        throw err;
      }
    });
  }

  put(key: string, data: Uint8Array): Promise<void> {
    checkKey(key);
    return this.#call(async () => {
      await this.#client.putObject(
        this.options.bucket,
        key,
        Buffer.from(data.buffer, data.byteOffset, data.byteLength),
        data.byteLength,
      );
    });
  }

  delete(key: string): Promise<void> {
    checkKey(key);
    return this.#call(() =>
      this.#client.removeObject(this.options.bucket, key)
    );
  }

  has(key: string): Promise<boolean> {
    checkKey(key);
    return this.#call(async () => {
      try {
        await this.#client.statObject(this.options.bucket, key);
        return true;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === "NotFound" || code === "NoSuchKey") return false;
        throw err;
      }
    });
  }

  list(prefix: string): Promise<string[]> {
    return this.#call(async () => {
      const keys: string[] = [];
      const stream = this.#client.listObjectsV2(
        this.options.bucket,
        prefix,
        true,
      );
      for await (const o of stream) {
        const name = (o as { name?: string }).name;
        if (name) keys.push(name);
      }
      return keys.sort();
    });
  }
}
