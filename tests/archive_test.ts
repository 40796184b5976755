import { gzipSync, zipSync } from "fflate";
import {
  ArchiveError,
  extractArchive,
  packDir,
  safeRelativePath,
} from "../lib/archive/mod.ts";
import { assert, assertEquals, assertRejects } from "./_push_assert.ts";
import { concat } from "../lib/bytes.ts";

const LIMITS = { maxBytes: 1 << 20, maxFiles: 100 };
const enc = (s: string) => new TextEncoder().encode(s);

async function withDir(fn: (dir: string) => Promise<void> | void) {
  const dir = await Deno.makeTempDir({ prefix: "mypaas_archive_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function refused(
  fn: () => unknown,
  status: number,
  includes: string,
) {
  try {
    await fn();
  } catch (err) {
    assert(err instanceof ArchiveError, `not an ArchiveError: ${err}`);
    assertEquals(err.status, status);
    assert(err.message.includes(includes), err.message);
    return;
  }
  throw new Error("expected the archive to be refused");
}

/** One tar entry (ustar). */
function tarEntry(
  name: string,
  opts: {
    type?: string;
    data?: Uint8Array;
    link?: string;
    /** Size in GNU base-256 form (as tar writes sizes of 8 GiB and more). */
    base256?: boolean;
  } = {},
): Uint8Array {
  const data = opts.data ?? new Uint8Array();
  const h = new Uint8Array(512);
  const put = (s: string, at: number) => h.set(enc(s), at);
  put(name, 0);
  put("0000644\0", 100);
  put("0000000\0", 108);
  put("0000000\0", 116);
  put(data.length.toString(8).padStart(11, "0") + "\0", 124);
  if (opts.base256) {
    h.fill(0, 124, 136);
    h[124] = 0x80;
    new DataView(h.buffer).setUint32(132, data.length);
  }
  put("00000000000\0", 136);
  put("        ", 148);
  put(opts.type ?? "0", 156);
  put(opts.link ?? "", 157);
  put("ustar\0", 257);
  put("00", 263);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  const padded = new Uint8Array(Math.ceil(data.length / 512) * 512);
  padded.set(data);
  const out = new Uint8Array(512 + padded.length);
  out.set(h);
  out.set(padded, 512);
  return out;
}

function tar(...entries: Uint8Array[]): Uint8Array {
  return concat([...entries, new Uint8Array(1024)]);
}

Deno.test("safeRelativePath() refuses absolute paths and .. and normalises", async () => {
  assertEquals(safeRelativePath("./a//b/"), "a/b");
  await refused(() => safeRelativePath("/etc/passwd"), 400, "absolute");
  await refused(() => safeRelativePath("C:\\x"), 400, "absolute");
  await refused(() => safeRelativePath("a/../../x"), 400, "..");
  await refused(() => safeRelativePath("a\\..\\x"), 400, "..");
});

Deno.test("extractArchive() unpacks a zip with dirs and modes", () =>
  withDir(async (dir) => {
    const zip = zipSync({
      "Dockerfile": enc("FROM x\n"),
      "app/run.sh": [enc("#!/bin/sh\n"), {
        os: 3,
        attrs: (0o100755 << 16) >>> 0,
      }],
      "app/sub/": new Uint8Array(),
    });
    const r = await extractArchive(zip, dir, LIMITS);
    assertEquals(r.format, "zip");
    assertEquals(await Deno.readTextFile(`${dir}/Dockerfile`), "FROM x\n");
    assertEquals((await Deno.stat(`${dir}/app/run.sh`)).mode! & 0o777, 0o755);
    assert((await Deno.stat(`${dir}/app/sub`)).isDirectory);
  }));

Deno.test("extractArchive() refuses a zip with ../ entries and writes nothing outside", () =>
  withDir(async (dir) => {
    await Deno.mkdir(`${dir}/out`);
    const zip = zipSync({ "../evil.txt": enc("x") });
    await refused(() => extractArchive(zip, `${dir}/out`, LIMITS), 400, "..");
    await assertRejects(
      () => Deno.stat(`${dir}/evil.txt`),
      Deno.errors.NotFound,
    );
    const abs = zipSync({ "/tmp/evil.txt": enc("x") });
    await refused(
      () => extractArchive(abs, `${dir}/out`, LIMITS),
      400,
      "absolute",
    );
  }));

Deno.test("extractArchive() stops a zip bomb by the bytes inflated, not its headers", () =>
  withDir(async (dir) => {
    const zip = zipSync({ "zeros": new Uint8Array(8 << 20) }, { level: 9 });
    assert(zip.length < 64 << 10, `bomb is ${zip.length} bytes`);
    // Lie in the headers: claim 1 byte uncompressed everywhere.
    patchUncompressedSizes(zip, 1);
    await refused(() => extractArchive(zip, dir, LIMITS), 413, "max_unpacked");
  }));

Deno.test("extractArchive() refuses too many files with 413", () =>
  withDir(async (dir) => {
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 101; i++) files[`f${i}`] = enc("x");
    await refused(
      () => extractArchive(zipSync(files), dir, LIMITS),
      413,
      "max_upload_files",
    );
  }));

Deno.test("extractArchive() refuses links that leave the directory, keeps inner ones", () =>
  withDir(async (dir) => {
    const link = (target: string) =>
      [enc(target), { os: 3, attrs: (0o120777 << 16) >>> 0 }] as [
        Uint8Array,
        { os: number; attrs: number },
      ];
    await Deno.mkdir(`${dir}/a`);
    await refused(
      () =>
        extractArchive(zipSync({ l: link("../../etc") }), `${dir}/a`, LIMITS),
      400,
      "outside",
    );
    await refused(
      () =>
        extractArchive(zipSync({ l: link("/etc/passwd") }), `${dir}/a`, LIMITS),
      400,
      "outside",
    );
    await Deno.mkdir(`${dir}/b`);
    await extractArchive(
      zipSync({ "x/f": enc("hi"), l: link("x/f") }),
      `${dir}/b`,
      LIMITS,
    );
    assertEquals(await Deno.readTextFile(`${dir}/b/l`), "hi");
    await Deno.mkdir(`${dir}/c`);
    await refused(
      () =>
        extractArchive(
          tar(tarEntry("l", { type: "2", link: "../x" })),
          `${dir}/c`,
          LIMITS,
        ),
      400,
      "outside",
    );
  }));

Deno.test("extractArchive() refuses device files and FIFOs in a tar", () =>
  withDir(async (dir) => {
    await refused(
      () =>
        extractArchive(tar(tarEntry("dev/sda", { type: "4" })), dir, LIMITS),
      400,
      "device",
    );
    await refused(
      () => extractArchive(tar(tarEntry("p", { type: "6" })), dir, LIMITS),
      400,
      "FIFO",
    );
  }));

Deno.test("extractArchive() unpacks tar and tar.gz, and stops a tar.gz bomb", () =>
  withDir(async (dir) => {
    const t = tar(
      tarEntry("a/b.txt", { data: enc("hello") }),
      tarEntry("h", { type: "1", link: "a/b.txt" }),
    );
    await Deno.mkdir(`${dir}/1`);
    assertEquals((await extractArchive(t, `${dir}/1`, LIMITS)).format, "tar");
    assertEquals(await Deno.readTextFile(`${dir}/1/a/b.txt`), "hello");
    assertEquals(await Deno.readTextFile(`${dir}/1/h`), "hello");
    await Deno.mkdir(`${dir}/2`);
    assertEquals(
      (await extractArchive(gzipSync(t), `${dir}/2`, LIMITS)).format,
      "tar.gz",
    );
    assertEquals(await Deno.readTextFile(`${dir}/2/a/b.txt`), "hello");
    await Deno.mkdir(`${dir}/3`);
    const bomb = gzipSync(
      tar(tarEntry("z", { data: new Uint8Array(4 << 20) })),
      { level: 9 },
    );
    await refused(
      () => extractArchive(bomb, `${dir}/3`, LIMITS),
      413,
      "max_unpacked",
    );
    await refused(
      () => extractArchive(enc("hello, not an archive"), `${dir}/3`, LIMITS),
      400,
      "not a zip",
    );
  }));

Deno.test("packDir() honours .dockerignore and mypaas.toml ignore, keeps Dockerfile", () =>
  withDir(async (dir) => {
    const src = `${dir}/src`;
    await Deno.mkdir(`${src}/node_modules/x`, { recursive: true });
    await Deno.mkdir(`${src}/.git`);
    await Deno.writeTextFile(`${src}/.git/HEAD`, "ref");
    await Deno.writeTextFile(`${src}/Dockerfile`, "FROM x");
    await Deno.writeTextFile(
      `${src}/.dockerignore`,
      "node_modules\nDockerfile\n",
    );
    await Deno.writeTextFile(`${src}/mypaas.toml`, 'ignore = ["*.log"]\n');
    await Deno.writeTextFile(`${src}/node_modules/x/i.js`, "x");
    await Deno.writeTextFile(`${src}/debug.log`, "x");
    await Deno.writeTextFile(`${src}/main.ts`, "x");
    const { zip, files } = await packDir(src);
    await Deno.mkdir(`${dir}/out`);
    await extractArchive(zip, `${dir}/out`, LIMITS);
    const names: string[] = [];
    for await (const e of Deno.readDir(`${dir}/out`)) names.push(e.name);
    assertEquals(names.sort(), [
      ".dockerignore",
      "Dockerfile",
      "main.ts",
      "mypaas.toml",
    ]);
    assertEquals(files, 4);
  }));

/** Overwrites the uncompressed-size fields of every zip header. */
function patchUncompressedSizes(zip: Uint8Array, size: number) {
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  for (let i = 0; i + 4 <= zip.length; i++) {
    const sig = v.getUint32(i, true);
    if (sig === 0x04034b50) v.setUint32(i + 22, size, true);
    if (sig === 0x02014b50) v.setUint32(i + 24, size, true);
  }
}

Deno.test("extractArchive() gives the event loop turns while it inflates", () =>
  withDir(async (dir) => {
    const zip = zipSync({ big: new Uint8Array(64 << 20) }, { level: 1 });
    let longest = 0;
    let last = performance.now();
    let ticks = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      ticks++;
    }, 1);
    const start = performance.now();
    try {
      last = start;
      await extractArchive(zip, dir, { maxBytes: 1 << 30, maxFiles: 10 });
    } finally {
      clearInterval(timer);
    }
    const total = performance.now() - start;
    // A blocking unpack gives 0 turns and one gap as long as the whole run
    // (bounds relative to the run, so a loaded machine does not matter).
    assert(ticks >= 5, `only ${ticks} timer turns during the unpack`);
    assert(
      longest < total / 2,
      `the event loop was blocked for ${longest} of ${total} ms`,
    );
    assertEquals((await Deno.stat(`${dir}/big`)).size, 64 << 20);
  }));

Deno.test("extractArchive() unpacks tar's GNU and pax long names and base-256 sizes", () =>
  withDir(async (dir) => {
    // A directory name over 100 bytes fits neither ustar's name nor prefix.
    const long = `${"d".repeat(120)}/${"é".repeat(60)}.txt`;
    await Deno.mkdir(`${dir}/src/${"d".repeat(120)}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/src/${long}`, "deep");
    await Deno.symlink(long, `${dir}/src/${"l".repeat(110)}`);
    for (const format of ["gnu", "pax"]) {
      const out = await new Deno.Command("tar", {
        args: [`--format=${format}`, "-cf", "-", "-C", `${dir}/src`, "."],
        stdout: "piped",
      }).output();
      assert(out.success, new TextDecoder().decode(out.stderr));
      const dest = `${dir}/${format}`;
      await Deno.mkdir(dest);
      const r = await extractArchive(out.stdout, dest, LIMITS);
      assertEquals(r.format, "tar");
      assertEquals(await Deno.readTextFile(`${dest}/${long}`), "deep");
      assertEquals(await Deno.readLink(`${dest}/${"l".repeat(110)}`), long);
    }
    await Deno.mkdir(`${dir}/b256`);
    await extractArchive(
      tar(tarEntry("big", { data: enc("base-256"), base256: true })),
      `${dir}/b256`,
      LIMITS,
    );
    assertEquals(await Deno.readTextFile(`${dir}/b256/big`), "base-256");
  }));
