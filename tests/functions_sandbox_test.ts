/**
 * Issue 11 point 16: the host's own interface addresses are denied to
 * isolates (at run time) and to the bundler (at deploy), unless `allow_net`
 * lists them. A server of this test listens on 0.0.0.0, so it is reachable
 * at every address of the host, as the daemon would be; the function tries
 * one that no private range covers (e.g. eth0's). Also the pure parts:
 * `ownAddressDenies` with injected interfaces, and `loosePaths`.
 */
import { loosePaths } from "../lib/daemon/private_paths.ts";
import { DENIED_NETS, ownAddressDenies } from "../lib/isolates/mod.ts";
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { testFunctions, viaHost } from "./functions_helpers.ts";

function iface(address: string, family: "IPv4" | "IPv6" = "IPv4") {
  return {
    family,
    name: "eth0",
    address,
    netmask: "",
    scopeid: null,
    cidr: "",
    mac: "",
  } as Deno.NetworkInterfaceInfo;
}

Deno.test("ownAddressDenies() lists the host's addresses that no denied range or allow_net covers", () => {
  const list = () => [
    iface("127.0.0.1"),
    iface("172.17.0.1"),
    iface("203.0.113.7"),
    iface("2001:db8::5", "IPv6"),
    iface("fe80::1", "IPv6"),
  ];
  assertEquals(ownAddressDenies([], DENIED_NETS, list), [
    "203.0.113.7",
    "[2001:db8::5]",
  ]);
  assertEquals(
    ownAddressDenies(["203.0.113.0/24", "[2001:db8::5]"], DENIED_NETS, list),
    [],
  );
});

/** An address of this host that the fixed deny list does not cover. */
function publicOwnAddress(): string | null {
  return Deno.networkInterfaces().find((i) =>
    i.family === "IPv4" && ownAddressDenies([], DENIED_NETS, () => [i]).length
  )?.address ?? null;
}

const own = publicOwnAddress();

Deno.test({
  name:
    "a function cannot fetch or import from the host's own address; allow_net re-opens it",
  ignore: own === null,
  async fn() {
    const hits: string[] = [];
    const server = Deno.serve(
      { hostname: "0.0.0.0", port: 0, onListen() {} },
      (req) => {
        hits.push(new URL(req.url).pathname);
        return new Response(`export const v = "from host";\n`, {
          headers: { "content-type": "application/javascript" },
        });
      },
    );
    const origin = `http://${own}:${server.addr.port}`;
    const src = (name: string) =>
      `// mypaas.service=${name}
// mypaas.url=http://${name}.fn.test/
export default {
  async fetch() {
    try {
      return new Response(await (await fetch("${origin}/fetched")).text());
    } catch (err) {
      return new Response((err as Error).name + " " + (err as Error).message, { status: 403 });
    }
  },
};
`;
    const write = async (source: string) => {
      const dir = await Deno.makeTempDir({ prefix: "mypaas-own-" });
      await Deno.writeTextFile(`${dir}/main.ts`, source);
      return dir;
    };
    let t = await testFunctions({ isolates: "min_workers = 0" });
    const dirs: string[] = [];
    try {
      // run time: refused by the worker process's --deny-net
      dirs.push(await write(src("fetcher")));
      const r = await t.platform.deploy(dirs[0]!, {}, () => {});
      assert(r.ok, r.error);
      const res = await viaHost(t.platform, "http://fetcher.fn.test/");
      assertEquals(res.status, 403, res.text);
      assertStringIncludes(res.text, "NotCapable");
      // deploy time: refused by the bundler's --deny-import
      dirs.push(
        await write(
          `import { v } from "${origin}/imported.js";\n` +
            `export default { fetch: () => new Response(v) };\n`,
        ),
      );
      const imp = await t.platform.deploy(dirs[1]!, { name: "imp" }, () => {});
      assert(!imp.ok, "the import was bundled");
      assertStringIncludes(imp.error ?? "", `${own}:${server.addr.port}`);
      assertEquals(hits, []);
      await t.close();

      // allow_net lists it: both go through
      t = await testFunctions({
        isolates: `min_workers = 0\nallow_net = ["${own}"]`,
      });
      const r2 = await t.platform.deploy(dirs[0]!, {}, () => {});
      assert(r2.ok, r2.error);
      assertEquals(await viaHost(t.platform, "http://fetcher.fn.test/"), {
        status: 200,
        text: `export const v = "from host";\n`,
      });
      const imp2 = await t.platform.deploy(dirs[1]!, { name: "imp" }, () => {});
      assert(imp2.ok, imp2.error);
      assertEquals(hits, ["/fetched", "/imported.js"]);
    } finally {
      await t.close();
      await server.shutdown();
      for (const d of dirs) await Deno.remove(d, { recursive: true });
    }
  },
});

Deno.test("loosePaths() names what group or others may read, skipping public caches", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/f/a`, { recursive: true, mode: 0o700 });
    await Deno.chmod(`${dir}/f`, 0o700);
    await Deno.writeTextFile(`${dir}/f/a/ok`, "x", { mode: 0o600 });
    await Deno.writeTextFile(`${dir}/f/a/open`, "x");
    await Deno.chmod(`${dir}/f/a/open`, 0o644);
    await Deno.mkdir(`${dir}/f/_deno_dir/npm`, { recursive: true });
    await Deno.chmod(`${dir}/f/_deno_dir`, 0o700);
    await Deno.chmod(`${dir}/f/_deno_dir/npm`, 0o755);
    assertEquals(await loosePaths([`${dir}/f`]), [
      { path: `${dir}/f/a/open`, mode: 0o644 },
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
