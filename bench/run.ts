// deno-lint-ignore-file no-console
/**
 * `deno task bench`: runs every `bench/*_bench.ts` module in turn (sorted by
 * name). Each exports `async function run(): Promise<void>` and prints its
 * own results. `deno task bench proxy` runs only modules whose name
 * contains "proxy".
 */
const dir = new URL(".", import.meta.url);
const filter = Deno.args[0] ?? "";
const names: string[] = [];
for await (const e of Deno.readDir(dir)) {
  if (e.isFile && e.name.endsWith("_bench.ts") && e.name.includes(filter)) {
    names.push(e.name);
  }
}
names.sort();
let failed = 0;
for (const name of names) {
  console.log(`\n=== ${name} ===`);
  const mod = await import(new URL(name, dir).href) as {
    run?: () => Promise<void>;
  };
  if (typeof mod.run !== "function") {
    console.log(`${name}: no exported run(), skipped`);
    continue;
  }
  try {
    await mod.run();
  } catch (err) {
    failed++;
    console.log(`${name} failed: ${(err as Error).stack ?? err}`);
  }
}
if (failed) Deno.exit(1);
