/**
 * One daemon per data dir: a second `mypaas server run` with the same
 * config exits 1 naming the pid that holds the lock, and touches nothing of
 * the first one (its isolates' sockets, its control socket, its listener);
 * the first keeps serving its function. Loopback only, no Docker engine.
 */
import { ControlClient } from "../../lib/api/control_client.ts";
import { assert, assertEquals } from "../isolates_assert.ts";
import { fixtureCopy } from "../functions_helpers.ts";
import { DaemonProcess, signedDaemonDir } from "./_daemon.ts";
import { getWithHost } from "./_images.ts";

/** Every path below `dir` with its inode, so a replaced file shows. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    out.push(`${path} ${(await Deno.lstat(path)).ino}`);
    if (e.isDirectory) out.push(...await tree(path));
  }
  return out.sort();
}

Deno.test("server run: a second daemon on the same data dir exits 1 naming the holder's pid and leaves the first one serving", async () => {
  const { dir, port, config } = await signedDaemonDir(
    "mypaas-lock-",
    `[isolates]
min_workers = 1
max_workers = 4
cluster_cpu_pct_target = 1.0
cluster_memory_pct_target = 1.0
[env]
GREETING = "hi"
`,
  );
  const socket = `${dir}/ctl.sock`;
  const first = new DaemonProcess(config);
  const second = new DaemonProcess(config);
  first.start();
  const client = new ControlClient(socket);
  const app = await fixtureCopy("hello");
  try {
    await first.waitFor("the first daemon", async () => {
      await client.list();
      return true;
    });
    const r = await client.deploy(app, {}, () => {});
    assert(r.ok, `${r.error}\n${first.output}`);
    const get = () => getWithHost(port, "hello.fn.test", "/lock", 5000);
    assertEquals((await get())?.status, 200);
    const sockets = await tree(`${dir}/data/functions/_sockets`);
    assert(sockets.some((p) => p.includes("/control.sock ")), sockets.join());
    const controlIno = (await Deno.lstat(socket)).ino;

    const status = await second.start().status;
    assert(status.code === 1, `exit ${status.code}:\n${second.output}`);
    assert(
      second.output.includes(`pid ${first.child.pid}`),
      `the holder's pid ${first.child.pid} is named:\n${second.output}`,
    );
    assert(second.output.includes(`${dir}/data/daemon.lock`), second.output);

    // Nothing of the first daemon was touched: its socket files are all
    // there with the same inodes (its pool may have booted another standby
    // meanwhile), none is the second daemon's, and it still serves.
    const after = await tree(`${dir}/data/functions/_sockets`);
    for (const s of sockets) {
      assert(after.includes(s), `${s} kept:\n${after.join("\n")}`);
    }
    const secondPid = second.child.pid;
    assert(
      !after.some((p) => p.includes(`/wp${secondPid}-`)),
      `no socket of the second daemon:\n${after.join("\n")}`,
    );
    assertEquals((await Deno.lstat(socket)).ino, controlIno);
    assertEquals((await get())?.status, 200);
    assertEquals(
      (await client.list()).find((d) => d.service === "hello")?.release,
      1,
    );
    assert(!first.output.includes("isolate boot failed"), first.output);

    // Once the first one is gone, even by SIGKILL (its worker processes
    // may outlive it a moment; they never hold the lock), the lock is free.
    first.kill("SIGKILL");
    await first.child.status;
    second.start();
    await second.waitFor("the second daemon after the first", async () => {
      const c = new ControlClient(socket);
      try {
        await c.list();
        return true;
      } finally {
        c.close();
      }
    });
  } finally {
    client.close();
    await second.stop();
    await first.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(app, { recursive: true }).catch(() => {});
  }
});
