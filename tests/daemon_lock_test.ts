import assert from "node:assert/strict";
import {
  DataDirLock,
  DataDirLockedError,
  lockPaths,
} from "../lib/daemon/data_dir_lock.ts";

Deno.test("DataDirLock.acquire() refuses a held data dir, naming the holder's pid, and frees it on release()", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-lock-unit-" });
  try {
    const lock = await DataDirLock.acquire(dir);
    assert.equal(
      (await Deno.readTextFile(lockPaths(dir).lock)).trim(),
      String(Deno.pid),
    );
    await assert.rejects(DataDirLock.acquire(dir), (err: Error) => {
      assert.ok(err instanceof DataDirLockedError);
      assert.equal(err.pid, Deno.pid);
      assert.match(err.message, new RegExp(`pid ${Deno.pid}; lock file `));
      return true;
    });
    lock.release();
    lock.release(); // idempotent
    assert.equal(lock.held, false);
    (await DataDirLock.acquire(dir)).release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DataDirLock: a held gate keeps newcomers out while take() (a handover's successor) gets the free lock", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-lock-unit-" });
  try {
    using gate = await Deno.open(lockPaths(dir).gate, {
      write: true,
      create: true,
    });
    assert.ok(await gate.tryLock(true));
    await assert.rejects(DataDirLock.acquire(dir), DataDirLockedError);
    const successor = await DataDirLock.take(dir);
    await assert.rejects(DataDirLock.take(dir), DataDirLockedError);
    successor.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
