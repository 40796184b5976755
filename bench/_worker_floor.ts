// deno-lint-ignore-file no-console
/**
 * The memory floor of one Deno Worker (run by bench/isolates_density_bench.ts
 * with the worker processes' V8 flags): N Workers with no code beyond an
 * onmessage, the process's RSS before and after, in bytes, as JSON.
 */
const n = Number(Deno.args[0] ?? 32);
const rss = () => Deno.memoryUsage().rss;
const before = rss();
const src = "data:text/javascript,self.onmessage=()=>postMessage(1)";
const workers = Array.from(
  { length: n },
  () => new Worker(src, { type: "module" }),
);
await Promise.all(workers.map((w) =>
  new Promise((r) => {
    w.onmessage = r;
    w.postMessage(0);
  })
));
await new Promise((r) => setTimeout(r, 1000));
console.log(JSON.stringify({ n, before, after: rss() }));
Deno.exit(0);
