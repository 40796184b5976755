/**
 * @module
 * One daemon per data dir: an exclusive, non-blocking flock(2) on
 * `DATA_DIR/daemon.lock`, taken before the daemon touches anything else
 * (Docker recovery, the isolates' socket dir, the listeners). The file holds
 * the holder's pid so that a second daemon can name it. The kernel drops the
 * lock when its process dies (crash, SIGKILL, OOM kill), so a stale file never
 * keeps a restart out; the pid in it is only read while the lock is held.
 *
 * Newcomers pass a gate first: an exclusive flock on `daemon.lock.gate`, held
 * only while they take the lock. A zero-downtime upgrade hands the lock over
 * through it: the old daemon holds the gate (so no third daemon slips in),
 * releases the lock, its successor takes it with `DataDirLock.take()`
 * without the gate and writes its pid, and the old daemon lets the gate go.
 */

/** The data dir is locked by another daemon (or one is taking it). */
export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";
  constructor(
    readonly dataDir: string,
    readonly lockFile: string,
    /** The holder's pid, when its file says (null while it is being taken). */
    readonly pid: number | null,
  ) {
    super(
      `data dir "${dataDir}" is in use by another mypaas daemon (${
        pid === null ? "its pid is not written yet" : `pid ${pid}`
      }; lock file ${lockFile}): stop that daemon first, or give this one another [server] data_dir`,
    );
  }
}

/** Paths of the lock and its gate in a data dir. */
export function lockPaths(dataDir: string): { lock: string; gate: string } {
  return {
    lock: `${dataDir}/daemon.lock`,
    gate: `${dataDir}/daemon.lock.gate`,
  };
}

/** The exclusive lock of one data dir, held until `release()`. */
export class DataDirLock {
  #file: Deno.FsFile | null;

  private constructor(readonly dataDir: string, file: Deno.FsFile) {
    this.#file = file;
  }

  /**
   * Takes the lock through the gate, or throws `DataDirLockedError` naming
   * the holder's pid. Writes nothing unless it got the lock. The data dir
   * must exist.
   */
  static async acquire(dataDir: string): Promise<DataDirLock> {
    const paths = lockPaths(dataDir);
    using gate = await openLockFile(paths.gate);
    if (!await gate.tryLock(true)) {
      throw new DataDirLockedError(dataDir, paths.lock, await readPid(paths));
    }
    return await DataDirLock.take(dataDir);
  }

  /**
   * Takes the lock without the gate: for the successor of a handover, whose
   * predecessor holds the gate. Throws `DataDirLockedError` while the lock is
   * held.
   */
  static async take(dataDir: string): Promise<DataDirLock> {
    const paths = lockPaths(dataDir);
    const file = await openLockFile(paths.lock);
    try {
      if (!await file.tryLock(true)) {
        throw new DataDirLockedError(dataDir, paths.lock, await readPid(paths));
      }
      await file.truncate(0);
      await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
    } catch (err) {
      file.close();
      throw err;
    }
    return new DataDirLock(dataDir, file);
  }

  /** True until `release()`. */
  get held(): boolean {
    return this.#file !== null;
  }

  /** Lets the lock go (the file stays; its pid is stale from now on). Idempotent. */
  release(): void {
    const file = this.#file;
    this.#file = null;
    file?.close(); // closing the last descriptor drops the flock
  }
}

/** Opens (creating, never truncating) a lock file, mode 0600. */
function openLockFile(path: string): Promise<Deno.FsFile> {
  return Deno.open(path, {
    read: true,
    write: true,
    create: true,
    mode: 0o600,
  });
}

/** The pid in the lock file, or null when it holds none (yet). */
async function readPid(paths: { lock: string }): Promise<number | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(paths.lock);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}
