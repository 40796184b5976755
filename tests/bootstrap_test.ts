/**
 * scripts/bootstrap.sh and ./start, driven by a PATH of stub commands: the
 * tests check what the script decides to install given what is present, and
 * (with stubs of apt-get, npm and sudo that only log their arguments) the
 * order in which it runs them and what it records. Nothing is installed.
 */
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const BOOTSTRAP = `${ROOT}scripts/bootstrap.sh`;
const BASH = "/bin/bash";
const DENO_OK = "2.9.6";

interface Machine {
  /** `deno --version` reports this; absent: no deno. */
  deno?: string;
  npm?: boolean;
  ss?: boolean;
  docker?: boolean;
  aptGet?: boolean;
  sudo?: boolean;
  uid?: number;
  /** The npm stub fails `npm install`. */
  npmFails?: boolean;
}

interface Run {
  code: number;
  out: string;
  err: string;
  /** The commands the stubs were asked to run, one a line. */
  calls: string[];
  record: string | null;
  plan: string[];
}

async function stub(dir: string, name: string, body: string) {
  await Deno.writeTextFile(`${dir}/${name}`, `#!${BASH}\n${body}\n`, {
    mode: 0o755,
  });
}

function denoStub(version: string) {
  return `echo "deno ${version} (stable, release, x86_64-unknown-linux-gnu)"`;
}

/** A directory of stubs that stands for a machine with `m` installed. */
async function machine(m: Machine): Promise<{ bin: string; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "mypaas-bootstrap-" });
  const bin = `${dir}/bin`;
  await Deno.mkdir(bin);
  const log = `echo "$(basename "$0") $*" >> ${dir}/calls`;
  // the few real tools the install path runs (through root())
  for (const tool of ["mkdir", "tee", "env", "basename", "chmod", "mv"]) {
    const real = ["/usr/bin", "/bin"].map((d) => `${d}/${tool}`)
      .find((p) => {
        try {
          return Deno.statSync(p).isFile;
        } catch {
          return false;
        }
      });
    assert(real, `no ${tool} in /usr/bin or /bin`);
    await Deno.symlink(real, `${bin}/${tool}`);
  }
  await stub(bin, "id", `echo ${m.uid ?? 0}`);
  if (m.deno) await stub(bin, "deno", denoStub(m.deno));
  // the stubs of installers make what they install appear on PATH: apt-get
  // moves the stubs of npm and ss from ${dir}/pkg into ${bin}
  const npm = `${log}\n` +
    (m.npmFails
      ? "exit 1"
      : `printf '%s\\n' '#!${BASH}' '${
        denoStub(DENO_OK)
      }' > ${bin}/deno; chmod +x ${bin}/deno`);
  await Deno.mkdir(`${dir}/pkg`);
  await stub(`${dir}/pkg`, "npm", npm);
  await stub(`${dir}/pkg`, "ss", "exit 0");
  if (m.npm) await stub(bin, "npm", npm);
  if (m.ss) await stub(bin, "ss", "exit 0");
  if (m.docker) await stub(bin, "docker", "exit 0");
  if (m.aptGet) {
    await stub(
      bin,
      "apt-get",
      `${log}
for p in "$@"; do
  case "$p" in
  npm) mv ${dir}/pkg/npm ${bin}/npm ;;
  iproute2) mv ${dir}/pkg/ss ${bin}/ss ;;
  esac
done`,
    );
  }
  if (m.sudo) await stub(bin, "sudo", `${log}\nexec "$@"`);
  return { bin, dir };
}

async function run(
  m: Machine,
  args: string[] = ["--dry-run"],
  script = BOOTSTRAP,
  again = 1,
): Promise<Run> {
  const { bin, dir } = await machine(m);
  try {
    let r: Run | undefined;
    for (let i = 0; i < again; i++) {
      await Deno.remove(`${dir}/calls`).catch(() => {});
      const out = await new Deno.Command(BASH, {
        args: [script, ...args],
        env: {
          PATH: bin,
          MYPAAS_BOOTSTRAP_RECORD: `${dir}/var/bootstrap-installed`,
        },
        clearEnv: true,
        stdin: "null",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      r = {
        code: out.code,
        out: text,
        err: new TextDecoder().decode(out.stderr),
        calls: (await Deno.readTextFile(`${dir}/calls`).catch(() => ""))
          .split("\n").filter((l) => l),
        record: await Deno.readTextFile(`${dir}/var/bootstrap-installed`)
          .catch(() => null),
        plan: text.split("\n").filter((l) => l.startsWith("plan: ")),
      };
    }
    return r!;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("bootstrap --dry-run on a bare Debian plans Node/npm and iproute2 through apt, then Deno through npm, and runs nothing", async () => {
  const r = await run({ aptGet: true });
  assertEquals(r.code, 0, r.err);
  assertEquals(r.plan, [
    "plan: apt-get install nodejs npm iproute2",
    "plan: npm install -g deno@2.9.6",
  ]);
  assertStringIncludes(r.out, "deno not found: will install Deno 2.9.6");
  assertStringIncludes(r.out, "nodejs npm: npm installs Deno");
  assertStringIncludes(r.out, "iproute2: the proxy lists and closes");
  assertStringIncludes(r.out, "Docker not found and not installed");
  assertStringIncludes(r.out, "apt-get install docker.io");
  assertEquals(r.calls, []);
  assertEquals(r.record, null);
});

Deno.test("bootstrap does nothing when Deno 2.9.6, ss and Docker are there, and never plans Docker", async () => {
  const r = await run({ deno: DENO_OK, ss: true, docker: true, aptGet: true });
  assertEquals(r.code, 0, r.err);
  assertEquals(r.plan, ["plan: nothing to install"]);
  assert(!r.out.includes("Docker"), r.out);
  const real = await run({ deno: DENO_OK, ss: true, aptGet: true }, []);
  assertEquals(real.code, 0, real.err);
  assertEquals(real.calls, []);
  assertEquals(real.record, null);
  assert(!real.plan.some((l) => l.includes("docker")), real.out);
});

Deno.test("bootstrap replaces a Deno of another version through npm, without apt when npm is there", async () => {
  const r = await run({ deno: "2.1.4", npm: true, ss: true, aptGet: true });
  assertEquals(r.code, 0, r.err);
  assertEquals(r.plan, ["plan: npm install -g deno@2.9.6"]);
  assertStringIncludes(r.out, "deno is 2.1.4, the daemon needs 2.9.6");
});

Deno.test("bootstrap installs no Node/npm when Deno 2.9.6 is there, only iproute2 for a missing ss", async () => {
  const r = await run({ deno: DENO_OK, aptGet: true });
  assertEquals(r.code, 0, r.err);
  assertEquals(r.plan, ["plan: apt-get install iproute2"]);
});

Deno.test("bootstrap as a user goes through sudo", async () => {
  const r = await run({ aptGet: true, sudo: true, uid: 1000 });
  assertEquals(r.code, 0, r.err);
  assertEquals(r.plan, [
    "plan: sudo apt-get install nodejs npm iproute2",
    "plan: sudo npm install -g deno@2.9.6",
  ]);
  assertEquals(r.calls, []);
});

Deno.test("bootstrap as a user without sudo fails naming what it could not install", async () => {
  const r = await run({ aptGet: true, uid: 1000 });
  assertEquals(r.code, 1);
  assertStringIncludes(
    r.err,
    "cannot install nodejs npm iproute2 deno@2.9.6: not root and no sudo",
  );
  assertEquals(r.plan, []);
});

Deno.test("bootstrap without apt-get fails naming the packages, the supported platforms and Deno 2.9.6", async () => {
  const r = await run({});
  assertEquals(r.code, 1);
  assertStringIncludes(r.err, "cannot install nodejs npm iproute2: no apt-get");
  assertStringIncludes(r.err, "supports Debian and Ubuntu");
  assertStringIncludes(r.err, "install Deno 2.9.6");
  // with npm and ss there, apt is not needed: Deno comes through npm
  const npmOnly = await run({ npm: true, ss: true });
  assertEquals(npmOnly.code, 0, npmOnly.err);
  assertEquals(npmOnly.plan, ["plan: npm install -g deno@2.9.6"]);
});

Deno.test("bootstrap installs through sudo in order, records what it installed, and is a no-op the second time", async () => {
  const first = await run({ aptGet: true, sudo: true, uid: 1000 }, []);
  assertEquals(first.code, 0, first.err);
  assertEquals(
    first.calls.filter((c) => !c.startsWith("sudo ")),
    [
      "apt-get update -q",
      "apt-get install -y -q --no-install-recommends nodejs npm iproute2",
      "npm install -g deno@2.9.6",
    ],
  );
  assert(first.calls.some((c) => c.startsWith("sudo env DEBIAN_FRONTEND")));
  assertEquals(first.record, "apt nodejs\napt npm\napt iproute2\nnpm deno\n");
  assertStringIncludes(first.out, "done: installed nodejs npm iproute2");

  const second = await run(
    { aptGet: true, sudo: true, uid: 1000 },
    [],
    BOOTSTRAP,
    2,
  );
  assertEquals(second.code, 0, second.err);
  assertEquals(second.plan, ["plan: nothing to install"]);
  assertEquals(second.calls, []);
});

Deno.test("bootstrap fails naming Deno when npm cannot install it, and records nothing", async () => {
  const r = await run({ npm: true, ss: true, npmFails: true }, []);
  assertEquals(r.code, 1);
  assertStringIncludes(r.err, "could not install Deno 2.9.6 with npm");
  assertEquals(r.record, null);
});

Deno.test("bootstrap rejects an unknown argument with exit 2", async () => {
  const r = await run({}, ["--yes"]);
  assertEquals(r.code, 2);
  assertStringIncludes(r.err, 'unknown argument "--yes"');
});

Deno.test("./start runs the bootstrap, then the daemon exactly as deno task start", async () => {
  const { bin, dir } = await machine({ ss: true, docker: true });
  try {
    await stub(
      bin,
      "deno",
      `
if [ "$1" = --version ]; then ${denoStub(DENO_OK)}; exit; fi
echo "deno $*" >> ${dir}/calls`,
    );
    const out = await new Deno.Command(BASH, {
      args: [`${ROOT}start`, "--config", "x.toml"],
      env: { PATH: bin },
      clearEnv: true,
      stdin: "null",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    assertStringIncludes(text, "plan: nothing to install");
    assertEquals(
      await Deno.readTextFile(`${dir}/calls`),
      "deno task start --config x.toml\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
