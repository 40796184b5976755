/**
 * @module
 * Writes archive entries below one directory and enforces the upload rules:
 * no absolute paths, no `..`, no links that leave the directory, no device
 * files, and limits on the unpacked total and the file count that are
 * checked on the bytes actually written, never on the archive's headers.
 */
import { InputError } from "../errors.ts";

/** Limits on what one upload may unpack to. */
export interface ExtractLimits {
  /** Largest total of file bytes (413 beyond). */
  maxBytes: number;
  /** Most entries (413 beyond). */
  maxFiles: number;
}

/** A refused archive; `status` is 400, or 413 for a too-large one. */
export class ArchiveError extends InputError {
  override name = "ArchiveError";
}

/** A path inside the archive, normalised; throws for unsafe ones. */
export function safeRelativePath(name: string): string {
  const n = name.replaceAll("\\", "/");
  if (n.startsWith("/") || /^[A-Za-z]:/.test(n)) {
    throw new ArchiveError(`Archive entry "${name}" has an absolute path`);
  }
  const parts = n.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) {
    throw new ArchiveError(
      `Archive entry "${name}" leaves the directory ("..")`,
    );
  }
  if (n.includes("\0")) {
    throw new ArchiveError(`Archive entry "${name}" has a NUL byte`);
  }
  return parts.join("/");
}

/** Sink for one file's bytes. */
export interface FileSink {
  write(chunk: Uint8Array): void;
  close(): void;
}

/** Unpacks entries into `root` (which must exist and be empty). */
export class ArchiveWriter {
  #bytes = 0;
  #files = 0;
  readonly #links: { path: string; target: string }[] = [];
  readonly #hardlinks: { path: string; target: string }[] = [];

  constructor(readonly root: string, readonly limits: ExtractLimits) {}

  /** Bytes written so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Entries written so far. */
  get files(): number {
    return this.#files;
  }

  #count(name: string): void {
    if (++this.#files > this.limits.maxFiles) {
      throw new ArchiveError(
        `Archive has more than ${this.limits.maxFiles} entries (server.max_upload_files); at "${name}"`,
        { status: 413 },
      );
    }
  }

  /** A directory entry. */
  dir(name: string): void {
    const rel = safeRelativePath(name);
    this.#count(name);
    if (rel) {
      Deno.mkdirSync(`${this.root}/${rel}`, { recursive: true, mode: 0o755 });
    }
  }

  /** Opens a regular file; the sink counts every byte against the limit. */
  file(name: string, mode: number): FileSink {
    const rel = safeRelativePath(name);
    if (!rel) {
      throw new ArchiveError(`Archive entry "${name}" has no file name`);
    }
    this.#count(name);
    const path = `${this.root}/${rel}`;
    this.#mkParent(rel);
    let f: Deno.FsFile;
    try {
      f = Deno.openSync(path, {
        write: true,
        createNew: true,
        mode: (mode & 0o755) | 0o600,
      });
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) {
        throw new ArchiveError(`Archive has "${name}" twice`);
      }
      throw err;
    }
    let open = true;
    const close = () => {
      if (open) f.close();
      open = false;
    };
    return {
      write: (chunk) => {
        this.#bytes += chunk.length;
        if (this.#bytes > this.limits.maxBytes) {
          close();
          throw new ArchiveError(
            `Archive unpacks to more than ${this.limits.maxBytes} bytes (server.max_unpacked); at "${name}"`,
            { status: 413 },
          );
        }
        let at = 0;
        while (at < chunk.length) at += f.writeSync(chunk.subarray(at));
      },
      close,
    };
  }

  /** A symbolic link; created at `finish()` so no file is written through one. */
  symlink(name: string, target: string): void {
    const rel = safeRelativePath(name);
    this.#count(name);
    const t = target.replaceAll("\\", "/");
    if (t.startsWith("/") || t.split("/").includes("..")) {
      throw new ArchiveError(
        `Archive link "${name}" -> "${target}" points outside the directory`,
      );
    }
    this.#links.push({ path: rel, target: t });
  }

  /** A hard link to an earlier entry: copied at `finish()`. */
  hardlink(name: string, target: string): void {
    const rel = safeRelativePath(name);
    this.#count(name);
    this.#hardlinks.push({ path: rel, target: safeRelativePath(target) });
  }

  /** Device files, FIFOs, sockets: refused. */
  special(name: string, kind: string): never {
    throw new ArchiveError(
      `Archive entry "${name}" is a ${kind}; only files, directories and links are allowed`,
    );
  }

  /** Creates the links. */
  finish(): void {
    for (const { path, target } of this.#hardlinks) {
      const src = `${this.root}/${target}`;
      let size: number;
      try {
        size = Deno.statSync(src).size;
        if (!Deno.lstatSync(src).isFile) throw new Deno.errors.NotFound();
      } catch {
        throw new ArchiveError(
          `Archive hard link "${path}" -> "${target}": no such file in the archive`,
        );
      }
      this.#bytes += size;
      if (this.#bytes > this.limits.maxBytes) {
        throw new ArchiveError(
          `Archive unpacks to more than ${this.limits.maxBytes} bytes (server.max_unpacked)`,
          { status: 413 },
        );
      }
      this.#mkParent(path);
      Deno.copyFileSync(src, `${this.root}/${path}`);
    }
    for (const { path, target } of this.#links) {
      this.#mkParent(path);
      try {
        Deno.symlinkSync(target, `${this.root}/${path}`);
      } catch (err) {
        if (err instanceof Deno.errors.AlreadyExists) {
          throw new ArchiveError(`Archive has "${path}" twice`);
        }
        throw err;
      }
    }
  }

  #mkParent(rel: string): void {
    const i = rel.lastIndexOf("/");
    if (i > 0) {
      const dir = `${this.root}/${rel.slice(0, i)}`;
      try {
        Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
      } catch (err) {
        if (
          err instanceof Deno.errors.AlreadyExists ||
          err instanceof Deno.errors.NotADirectory
        ) {
          throw new ArchiveError(`Archive entry "${rel}" is below a file`);
        }
        throw err;
      }
    }
  }
}
