/**
 * lib/isolates/process_set.ts: processes that are still starting when the
 * pool stops are stopped too (shared and alone spawns), and a process made
 * for one isolate alone never takes another.
 */
import { assert, assertEquals } from "./isolates_assert.ts";
import { RUNTIME_DIR } from "./isolates_helpers.ts";
import { ProcessSet } from "../lib/isolates/process_set.ts";

async function withSet(
  fn: (set: ProcessSet, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-procset-" });
  const set = new ProcessSet(
    {
      denoPath: Deno.execPath(),
      runtimeDir: RUNTIME_DIR,
      socketDir: `${dir}/sockets`,
      denoDir: `${dir}/deno_dir`,
      readPaths: [],
      denyNet: [],
      memoryLimit: 64 * 2 ** 20,
      cpuLimitMs: 500,
      loadTimeoutMs: 5000,
    },
    4,
    { onEvent() {}, onCrash() {} },
  );
  try {
    await fn(set, dir);
  } finally {
    await set.stopAll();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Processes whose command line names `dir` (the set's socket dir). */
async function running(dir: string): Promise<number> {
  const out = await new Deno.Command("pgrep", { args: ["-f", dir] }).output();
  return new TextDecoder().decode(out.stdout).trim().split("\n").filter(
    Boolean,
  ).length;
}

Deno.test("ProcessSet.stopAll() stops processes still starting, shared or alone", async () => {
  await withSet(async (set, dir) => {
    const starting = Promise.allSettled([
      set.withRoom("a"),
      set.spawnAlone("b"),
    ]);
    await set.stopAll();
    const outcomes = await starting;
    assertEquals(outcomes.map((o) => o.status), ["rejected", "rejected"]);
    assertEquals(await running(dir), 0);
    assertEquals(set.size, 0);
  });
});

Deno.test("ProcessSet: a process spawned alone takes no other isolate", async () => {
  await withSet(async (set) => {
    const alone = await set.spawnAlone("solo");
    const other = await set.withRoom("x");
    assert(other !== alone, "withRoom() chose the alone process");
    assertEquals([...alone.isolates], ["solo"]);
    assertEquals(set.size, 2);
  });
});
