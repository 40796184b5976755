/**
 * The function sandbox at deploy and load time (issue 11 points 1, 2, 4, 16
 * and issue 24 point 3), on a FunctionsPlatform with real worker processes
 * and the real bundler: hostile imports are refused at bundling and the
 * serving release stays; top-level code reads no other function's files; a
 * refused switch leaves `current` as it was across a restart; the host's own
 * interface addresses are denied; what holds tenants' code and env is
 * private, and the start-up check names a loosened path.
 */
import { InputError } from "../lib/errors.ts";
import type { FunctionRoutes } from "../lib/functions/target.ts";
import { hostAddresses } from "../lib/isolates/net_policy.ts";
import { loosePaths, warnLoosePaths } from "../lib/daemon/private_paths.ts";
import { makeLogger } from "../lib/log.ts";
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { testFunctions, viaHost } from "./functions_helpers.ts";

/** A function directory with one entry file. */
async function fnDir(source: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-sandbox-" });
  await Deno.writeTextFile(`${dir}/main.ts`, source);
  return dir;
}

const HELLO = (n: number) =>
  `// mypaas.service=victim
// mypaas.url=http://victim.fn.test/
// mypaas.env=TOKEN=tok-${n}
export default { fetch: () => new Response("victim ${n}") };
`;

Deno.test("bundling refuses an import of a host file (also through a symlink) or of a loopback server; the serving release keeps serving", async () => {
  const t = await testFunctions();
  const hits: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      hits.push(new URL(req.url).pathname);
      return new Response('export const leak = "LOOPBACK-LEAK";\n', {
        headers: { "content-type": "application/javascript" },
      });
    },
  );
  const dirs: string[] = [];
  try {
    dirs.push(await fnDir(HELLO(1)));
    const ok = await t.platform.deploy(dirs[0]!, {}, () => {});
    assert(ok.ok, ok.error);
    const attempts: [string, string][] = [
      [
        `import t from "/etc/passwd" with { type: "text" };`,
        `Requires read access to "/etc/passwd"`,
      ],
      [
        `import { leak as t } from "http://127.0.0.1:${server.addr.port}/m.js";`,
        `Requires import access to "127.0.0.1:${server.addr.port}"`,
      ],
      [
        `import { leak as t } from "http://localhost:${server.addr.port}/m.js";`,
        `Requires import access to "127.0.0.1:${server.addr.port}"`,
      ],
      // a symlink in the upload is followed, then refused
      [
        `import t from "./link.txt" with { type: "text" };`,
        `Requires read access to "/etc/passwd"`,
      ],
    ];
    for (const [line, why] of attempts) {
      const dir = await fnDir(`// mypaas.service=victim
// mypaas.url=http://victim.fn.test/
${line}
export default { fetch: () => new Response(String(t)) };
`);
      dirs.push(dir);
      await Deno.symlink("/etc/passwd", `${dir}/link.txt`);
      const lines: string[] = [];
      const r = await t.platform.deploy(dir, {}, (l) => lines.push(l));
      assertEquals(r.ok, false);
      assertStringIncludes(r.error ?? "", why);
      assertStringIncludes(r.error ?? "", "main.ts:3:");
      assertEquals(r.release, 1);
      assertEquals(await viaHost(t.platform, "http://victim.fn.test/"), {
        status: 200,
        text: "victim 1",
      });
      assertEquals(await t.platform.store.releases("victim"), [1]);
    }
    assertEquals(hits, []);
  } finally {
    await server.shutdown();
    await t.close();
    for (const d of dirs) await Deno.remove(d, { recursive: true });
  }
});

Deno.test("top-level code of a function cannot read another function's manifest or bundle", async () => {
  const t = await testFunctions();
  const dirs: string[] = [];
  try {
    dirs.push(await fnDir(HELLO(7)));
    const v = await t.platform.deploy(dirs[0]!, {}, () => {});
    assert(v.ok, v.error);
    const manifest = await t.platform.store.read("victim", 1);
    const paths = [
      `${t.dataDir}/functions/victim/releases/1/manifest.json`,
      manifest.artifact,
    ];
    dirs.push(
      await fnDir(`// mypaas.service=attacker
// mypaas.url=http://attacker.fn.test/
const out = [];
for (const p of ${JSON.stringify(paths)}) {
  try {
    out.push("READ " + Deno.readTextFileSync(p).slice(0, 80));
  } catch (err) {
    out.push("denied " + err.name);
  }
}
export default { fetch: () => new Response(out.join("\\n")) };
`),
    );
    const a = await t.platform.deploy(dirs[1]!, {}, () => {});
    assert(a.ok, a.error);
    const got = await viaHost(t.platform, "http://attacker.fn.test/");
    assertEquals(got, {
      status: 200,
      text: "denied NotCapable\ndenied NotCapable",
    });
    assert(!got.text.includes("tok-7"), got.text);
  } finally {
    await t.close();
    for (const d of dirs) await Deno.remove(d, { recursive: true });
  }
});

/** Routes that refuse what a container holds (as lib/proxy's Router does). */
function routesWithContainer(taken: string): FunctionRoutes {
  return {
    setHandler(_name, urls) {
      if (urls.some((u) => u.host === taken)) {
        throw new InputError(`URL http://${taken}/ is a container's`, {
          status: 409,
        });
      }
    },
    removeHandler() {},
  };
}

Deno.test("a refused switch leaves current as it was: after a restart the old release serves; a refused first release leaves nothing", async () => {
  const routes = routesWithContainer("web.test");
  const t = await testFunctions({ routes });
  const dirs: string[] = [];
  try {
    dirs.push(await fnDir(HELLO(1)));
    assert((await t.platform.deploy(dirs[0]!, {}, () => {})).ok);
    dirs.push(
      await fnDir(HELLO(2).replace("victim.fn.test", "web.test")),
      await fnDir(
        HELLO(3).replace(/victim/g, "newcomer").replace(
          "newcomer.fn.test",
          "web.test",
        ),
      ),
    );
    for (const dir of dirs.slice(1)) {
      const refused = await t.platform.deploy(dir, {}, () => {}).then(
        (r) => r.error ?? "deployed",
        (err: Error) => err.message,
      );
      assertStringIncludes(refused, "is a container's");
    }
    assertEquals(await t.platform.store.current("victim"), 1);
    assertEquals(await t.platform.store.releases("victim"), [1]);
    assertEquals(await t.platform.store.names(), ["victim"]);
    const left = await Deno.stat(`${t.dataDir}/functions/newcomer`).then(
      () => "left",
      () => "gone",
    );
    assertEquals(left, "gone");
    // A restart reads only the files.
    await t.stop();
    const again = await testFunctions({ routes, dataDir: t.dataDir });
    try {
      assertEquals(await viaHost(again.platform, "http://victim.fn.test/"), {
        status: 200,
        text: "victim 1",
      });
    } finally {
      await again.stop();
    }
  } finally {
    await t.close();
    for (const d of dirs) await Deno.remove(d, { recursive: true });
  }
});

/** A non-loopback address of this host that no private range covers. */
function publicHostAddress(): string {
  const privateV4 =
    /^(127\.|10\.|192\.168\.|169\.254\.|0\.|172\.(1[6-9]|2\d|3[01])\.|100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.)/;
  const addr = Deno.networkInterfaces().find((i) =>
    i.family === "IPv4" && !privateV4.test(i.address)
  )?.address;
  if (!addr) {
    throw new Error(
      "this test needs an interface with an IPv4 address outside the private ranges",
    );
  }
  return addr;
}

Deno.test("a function cannot reach the host's own interface address, unless allow_net lists it", async () => {
  const addr = publicHostAddress();
  assert(hostAddresses().includes(addr), hostAddresses().join(","));
  const server = Deno.serve(
    { hostname: "0.0.0.0", port: 0, onListen() {} },
    () => new Response("host-page"),
  );
  const url = `http://${addr}:${server.addr.port}/`;
  // It answers here: a refusal is the sandbox's.
  assertEquals(await (await fetch(url)).text(), "host-page");
  const source = `// mypaas.service=prober
// mypaas.url=http://prober.fn.test/
export default {
  async fetch() {
    try {
      return new Response("REACHED " + await (await fetch("${url}")).text());
    } catch (err) {
      return new Response("refused " + err.name + ": " + err.message);
    }
  },
};
`;
  const dir = await fnDir(source);
  try {
    for (const allow of ["", `allow_net = ["${addr}/32"]\n`]) {
      const t = await testFunctions({
        isolates: `${allow}min_workers = 1\nmax_workers = 2`,
      });
      try {
        const r = await t.platform.deploy(dir, {}, () => {});
        assert(r.ok, r.error);
        const got = await viaHost(t.platform, "http://prober.fn.test/");
        if (allow) assertEquals(got.text, "REACHED host-page");
        else {
          assertStringIncludes(
            got.text,
            `refused NotCapable: Requires net access to "${addr}:${server.addr.port}"`,
          );
        }
      } finally {
        await t.close();
      }
    }
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("what holds a function's code and env is private (0700 / 0600); the start-up check names a loosened path", async () => {
  const t = await testFunctions();
  const dirs: string[] = [];
  try {
    dirs.push(await fnDir(HELLO(5)));
    assert((await t.platform.deploy(dirs[0]!, {}, () => {})).ok);
    const skip = await fnDir(HELLO(6).replace(/victim/g, "plain"));
    dirs.push(skip);
    const r = await t.platform.deploy(skip, { skipOptimize: true }, () => {});
    assert(r.ok, r.error);
    // a request transpiles the --skip-optimize source into _deno_dir
    assertEquals(
      (await viaHost(t.platform, "http://plain.fn.test/")).text,
      "plain 6",
    );
    const fn = `${t.dataDir}/functions`;
    const checked: string[] = [];
    const walk = async (path: string): Promise<void> => {
      // deno's own tools (esbuild), 0755 by deno: no tenant's data
      if (path.endsWith("/_deno_dir/dl")) return;
      const st = await Deno.lstat(path);
      if (!st.isFile && !st.isDirectory) return;
      const mode = (st.mode ?? 0) & 0o777;
      assertEquals(
        `${path} ${mode.toString(8)}`,
        `${path} ${st.isDirectory ? "700" : "600"}`,
      );
      checked.push(path);
      if (st.isDirectory) {
        for await (const e of Deno.readDir(path)) {
          await walk(`${path}/${e.name}`);
        }
      }
    };
    for (const p of ["victim", "plain", "bundles", "_deno_dir"]) {
      await walk(`${fn}/${p}`);
    }
    assert(checked.some((p) => p.endsWith("manifest.json")));
    assert(checked.some((p) => p.includes("/bundles/") && p.endsWith(".js")));
    assert(
      checked.some((p) => p.includes("/_deno_dir/") && !p.endsWith("_dir")),
    );
    assertEquals(await loosePaths([t.dataDir, fn]), []);

    const manifest = `${fn}/victim/releases/1/manifest.json`;
    await Deno.chmod(manifest, 0o644);
    await Deno.chmod(`${fn}/bundles`, 0o755);
    const lines: string[] = [];
    await warnLoosePaths(
      t.config,
      makeLogger("t", "info", (l) => lines.push(l)),
    );
    assertEquals(lines.length, 1);
    assertStringIncludes(lines[0]!, "WARN");
    assertStringIncludes(lines[0]!, `${manifest} (0644)`);
    assertStringIncludes(lines[0]!, `${fn}/bundles (0755)`);
  } finally {
    await t.close();
    for (const d of dirs) await Deno.remove(d, { recursive: true });
  }
});
