// deno-lint-ignore-file no-console
/**
 * `deno task compile`: builds the single `mypaas` binary into dist/.
 *
 * `deno compile` needs the `denort` runtime of this Deno version. It
 * downloads it unless DENORT_BIN names a local copy; offline, set DENORT_BIN.
 * The isolate runtime is embedded (--include) because worker processes load
 * it from the binary's virtual file system.
 */
const root = new URL("..", import.meta.url).pathname;
const output = Deno.args[0] ?? `${root}dist/mypaas`;
const args = [
  "compile",
  "--allow-all",
  "--no-check",
  "--output",
  output,
  "--include",
  `${root}lib/isolates/runtime`,
  `${root}main.ts`,
];
const denort = Deno.env.get("DENORT_BIN");
console.log(`deno ${args.join(" ")}${denort ? ` (DENORT_BIN=${denort})` : ""}`);
const { code } = await new Deno.Command(Deno.execPath(), { args, cwd: root })
  .spawn().status;
if (code !== 0) {
  console.error(
    denort
      ? `deno compile failed with DENORT_BIN=${denort}: it must be the denort binary of Deno ${Deno.version.deno}`
      : `deno compile failed; offline it cannot download denort: set DENORT_BIN to the denort binary of Deno ${Deno.version.deno}`,
  );
  Deno.exit(1);
}
console.log(`wrote ${output}`);
