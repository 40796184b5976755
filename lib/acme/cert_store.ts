/**
 * @module
 * Certificates on disk and in memory, served by SNI name.
 *
 * Layout below `<data_dir>/certs` (directories 0700, files 0600):
 * - `<domain>/cert.pem`, `<domain>/key.pem`, `<domain>/meta.json`: issued by
 *   ACME and written here by the AcmeManager.
 * - `manual/<name>.crt` + `manual/<name>.key`: placed by the operator (PEM,
 *   chain leaf first). Such a certificate serves every DNS name of its
 *   subjectAltName, wildcards included, and overrides ACME for those names;
 *   the folder is polled, so adding, replacing or removing files takes effect
 *   without a restart. `<name>` only pairs the two files.
 * Self-signed placeholders live in memory only.
 */
import { RepeatLog } from "../backoff.ts";
import type { Logger } from "../log.ts";
import { silentLogger } from "../log.ts";
import {
  type CertPair,
  type CertSource,
  hostnameCandidates,
  normalizeHostname,
} from "./cert_source.ts";
import { type CertInfo, keyMatchesCert, readCertInfo } from "./cert_info.ts";
import { createSelfSigned } from "./self_signed.ts";

/** Where a served certificate came from. */
export type CertOrigin = "manual" | "acme" | "self-signed";

/** A certificate held by the store. */
export interface StoredCert {
  pair: CertPair;
  info: CertInfo;
  origin: CertOrigin;
}

/** Options of a CertStore. */
export interface CertStoreOptions {
  /** The certs directory, normally `dataPaths(config).certs`. */
  dir: string;
  log?: Logger;
  /** How often the manual folder is checked for changes (ms). */
  pollInterval?: number;
  /** Name on the certificate for clients without SNI or unknown names. */
  defaultName?: string;
}

const DOMAIN_RE =
  /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

/** Throws a TypeError unless `domain` is a plain DNS name (safe as a dir name). */
export function checkDomain(domain: string): string {
  const name = normalizeHostname(domain);
  if (!DOMAIN_RE.test(name) || name === "manual" || name.length > 253) {
    throw new TypeError(
      `Certificate domain must be a DNS name like "app.example.com": got "${domain}"`,
    );
  }
  return name;
}

/** The certificates of the daemon: manual, ACME-issued and self-signed. */
export class CertStore implements CertSource {
  readonly name = "cert-store";
  readonly dir: string;
  readonly #log: Logger;
  readonly #pollInterval: number;
  readonly #acme = new Map<string, StoredCert>();
  readonly #manual = new Map<string, StoredCert>();
  readonly #selfSigned = new Map<string, StoredCert>();
  readonly #listeners = new Set<() => void>();
  #batchDepth = 0;
  #pendingEmit = false;
  readonly #defaultName: string;
  #default: CertPair | undefined;
  #manualSignature = "";
  #timer: ReturnType<typeof setInterval> | undefined;
  #scanning: Promise<boolean> | undefined;

  constructor(opts: CertStoreOptions) {
    this.dir = opts.dir;
    this.#log = opts.log ?? silentLogger;
    this.#pollInterval = opts.pollInterval ?? 2_000;
    this.#defaultName = opts.defaultName ?? "localhost";
  }

  /** Loads the stored certificates and starts watching the manual folder. */
  async start(): Promise<void> {
    await mkdirPrivate(this.dir);
    await mkdirPrivate(`${this.dir}/manual`);
    await this.#loadAcme();
    await this.rescanManual();
    this.#default ??= await createSelfSigned([this.#defaultName]);
    // a scan that keeps failing is logged once a minute, with a count
    const failures = new RepeatLog((m) => this.#log.warn(m));
    this.#timer ??= setInterval(() => {
      this.rescanManual().then(
        () => failures.ok(),
        (err) =>
          failures.fail(`Manual certificate scan failed: ${err.message}`),
      );
    }, this.#pollInterval);
  }

  /** Stops watching; idempotent. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#scanning?.catch(() => {});
  }

  /** The certificate to serve for an SNI name: manual, then ACME, then self-signed. */
  get(hostname: string): CertPair | undefined {
    return this.lookup(hostname)?.pair;
  }

  /**
   * What to present to clients without SNI or asking for an unknown name:
   * the default name's own certificate if there is one, else a self-signed
   * one made at start().
   */
  defaultCert(): CertPair {
    const own = this.get(this.#defaultName);
    if (own) return own;
    if (!this.#default) {
      throw new Error(
        "CertStore.defaultCert() called before start(): start the store before the proxy",
      );
    }
    return this.#default;
  }

  /** Like get(), with where the certificate came from and what it says. */
  lookup(hostname: string): StoredCert | undefined {
    const candidates = hostnameCandidates(hostname);
    for (const name of candidates) {
      const hit = this.#manual.get(name);
      if (hit) return hit;
    }
    for (const name of candidates) {
      const hit = this.#acme.get(name);
      if (hit) return hit;
    }
    return this.#selfSigned.get(candidates[0]!);
  }

  /** The ACME-issued certificate stored for a domain, if any. */
  acmeCert(domain: string): StoredCert | undefined {
    return this.#acme.get(normalizeHostname(domain));
  }

  /** Whether an operator-placed certificate serves this name. */
  hasManual(domain: string): boolean {
    return hostnameCandidates(domain).some((n) => this.#manual.has(n));
  }

  /** Subscribes to certificate changes. */
  onChange(cb: () => void): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  /**
   * Runs `fn` with change notifications held back, then notifies once if
   * anything changed (the proxy rebinds its listener per notification).
   */
  async batch<T>(fn: () => Promise<T>): Promise<T> {
    this.#batchDepth++;
    try {
      return await fn();
    } finally {
      if (--this.#batchDepth === 0 && this.#pendingEmit) this.#emit();
    }
  }

  /** Writes an ACME-issued certificate (0600 files) and serves it at once. */
  async saveAcme(
    domain: string,
    pair: CertPair,
    meta: Record<string, unknown> = {},
  ): Promise<StoredCert> {
    const name = checkDomain(domain);
    const info = readCertInfo(pair.cert);
    const dir = `${this.dir}/${name}`;
    await mkdirPrivate(dir);
    await writePrivate(`${dir}/key.pem`, pair.key);
    await writePrivate(`${dir}/cert.pem`, pair.cert);
    await writePrivate(
      `${dir}/meta.json`,
      JSON.stringify(
        {
          domain: name,
          names: info.names,
          issuer: info.issuer,
          serial: info.serial,
          notBefore: info.notBefore.toISOString(),
          notAfter: info.notAfter.toISOString(),
          savedAt: new Date().toISOString(),
          ...meta,
        },
        null,
        2,
      ) + "\n",
    );
    const stored: StoredCert = { pair, info, origin: "acme" };
    this.#acme.set(name, stored);
    this.#selfSigned.delete(name);
    this.#emit();
    return stored;
  }

  /**
   * Makes sure a domain has something to serve: creates a self-signed
   * placeholder unless a manual or ACME certificate already covers it.
   */
  async ensureSelfSigned(domain: string): Promise<void> {
    const name = checkDomain(domain);
    const have = this.lookup(name);
    if (have && have.info.notAfter.getTime() > Date.now()) return;
    const pair = await createSelfSigned([name]);
    this.#selfSigned.set(name, {
      pair,
      info: readCertInfo(pair.cert),
      origin: "self-signed",
    });
    this.#emit();
  }

  /** Re-reads the manual folder if any file changed; true when it did. */
  rescanManual(): Promise<boolean> {
    this.#scanning ??= this.#scanManual().finally(() => {
      this.#scanning = undefined;
    });
    return this.#scanning;
  }

  async #scanManual(): Promise<boolean> {
    const dir = `${this.dir}/manual`;
    const files: { name: string; mtime: number; size: number }[] = [];
    try {
      for await (const entry of Deno.readDir(dir)) {
        if (!entry.isFile && !entry.isSymlink) continue;
        if (!/\.(crt|key)$/.test(entry.name)) continue;
        const st = await Deno.stat(`${dir}/${entry.name}`);
        files.push({
          name: entry.name,
          mtime: st.mtime?.getTime() ?? 0,
          size: st.size,
        });
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    files.sort((a, b) => a.name.localeCompare(b.name));
    const signature = JSON.stringify(files);
    if (signature === this.#manualSignature) return false;
    this.#manualSignature = signature;
    const next = new Map<string, StoredCert>();
    for (const f of files) {
      if (!f.name.endsWith(".crt")) continue;
      const stem = f.name.slice(0, -4);
      try {
        const cert = await Deno.readTextFile(`${dir}/${stem}.crt`);
        const key = await Deno.readTextFile(`${dir}/${stem}.key`);
        const info = readCertInfo(cert);
        if (!keyMatchesCert(cert, key)) {
          throw new Error(`${stem}.key is not the key of ${stem}.crt`);
        }
        for (const n of info.names) {
          next.set(n, { pair: { cert, key }, info, origin: "manual" });
        }
      } catch (err) {
        this.#log.warn(
          `Skipping manual certificate ${dir}/${stem}.crt: ${
            (err as Error).message
          } (it needs a PEM ${stem}.crt and ${stem}.key beside it)`,
        );
      }
    }
    this.#manual.clear();
    for (const [n, c] of next) this.#manual.set(n, c);
    this.#log.info(
      `Manual certificates: ${[...next.keys()].join(", ") || "none"}`,
    );
    this.#emit();
    return true;
  }

  async #loadAcme(): Promise<void> {
    for await (const entry of Deno.readDir(this.dir)) {
      if (!entry.isDirectory || entry.name === "manual") continue;
      const dir = `${this.dir}/${entry.name}`;
      try {
        const cert = await Deno.readTextFile(`${dir}/cert.pem`);
        const key = await Deno.readTextFile(`${dir}/key.pem`);
        this.#acme.set(entry.name, {
          pair: { cert, key },
          info: readCertInfo(cert),
          origin: "acme",
        });
      } catch (err) {
        this.#log.warn(
          `Ignoring certificate folder ${dir}: ${(err as Error).message}`,
        );
      }
    }
  }

  #emit(): void {
    if (this.#batchDepth > 0) {
      this.#pendingEmit = true;
      return;
    }
    this.#pendingEmit = false;
    for (const cb of this.#listeners) {
      try {
        cb();
      } catch (err) {
        this.#log.error(
          `Certificate change listener failed: ${(err as Error).message}`,
        );
      }
    }
  }
}

async function mkdirPrivate(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await Deno.chmod(dir, 0o700);
}

/** Writes atomically (temp file + rename) with mode 0600 from the start. */
async function writePrivate(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeTextFile(tmp, data, { mode: 0o600 });
  await Deno.chmod(tmp, 0o600);
  await Deno.rename(tmp, path);
}
