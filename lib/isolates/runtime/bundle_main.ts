/**
 * @module
 * The deploy-time bundler, run as its own sandboxed `deno run
 * --unstable-bundle` process (lib/functions/bundle.ts spawns it): it may
 * read only the uploaded directory and the npm cache, import only from
 * addresses outside the isolates' deny list, and write nothing (the bundle
 * goes to stdout). `Deno.bundle()` checks every local and remote module
 * against those permissions, so `import t from "/etc/passwd" with { type:
 * "text" }` or an import from a loopback server fails the bundle, and the
 * refusal names the importing file and line. Imports nothing of the daemon.
 *
 * Usage: bundle_main.ts ENTRY_PATH (stdout: the bundle; exit 1: errors on
 * stderr, one per line)
 */

const [entry] = Deno.args;
if (!entry) throw new TypeError("usage: bundle_main.ts ENTRY_PATH");

const result = await Deno.bundle({
  entrypoints: [entry],
  platform: "deno",
  format: "esm",
  write: false,
});
// Without an output path the one file is named "<stdout>".
const out = result.outputFiles?.find((f) => !f.path.endsWith(".map"));
if (!result.success || !out?.contents) {
  const lines = result.errors.map((e) => {
    const at = e.location
      ? `${e.location.file}:${e.location.line}:${e.location.column + 1}: `
      : "";
    // Deno's advice ("run again with the --allow-read flag") is not the
    // tenant's to follow: drop it.
    return at + e.text.replace(/, run again with the --allow-\w+ flag/, "")
      .split("\n")[0];
  });
  if (!lines.length) lines.push("the bundler produced no JavaScript output");
  Deno.stderr.writeSync(new TextEncoder().encode(lines.join("\n") + "\n"));
  Deno.exit(1);
}
const data = out.contents;
for (let off = 0; off < data.length;) {
  off += Deno.stdout.writeSync(data.subarray(off));
}
