/** A fake Platform and an API app on a temp data dir, for the API tests. */
import { createApiApp } from "../lib/api/app.ts";
import { MemoryAudit } from "../lib/audit.ts";
import { resolveConfig } from "../lib/config/mod.ts";
import type {
  CheckedDeploy,
  DeploymentStatus,
  DeployOptions,
  DeployResult,
  Platform,
} from "../lib/daemon/platform.ts";
import { AuthorizedKeys, type PrivateKey } from "../lib/keys/mod.ts";

/** Records what the API asked; answers with what the test sets. */
export class FakePlatform implements Platform {
  deploys: { files: string[]; opts: DeployOptions; name: string }[] = [];
  removed: string[] = [];
  result: DeployResult | Error = {
    ok: true,
    service: "web",
    kind: "service",
    release: 3,
  };
  services: DeploymentStatus[] = [];
  logLines = ["line 1", "line 2"];
  progressLines = ["Step 1/2 : FROM busybox"];
  /** Thrown by `check` (a refusal known before the stream) when set. */
  checkError: Error | null = null;

  check(dir: string, opts: DeployOptions): Promise<CheckedDeploy> {
    if (this.checkError) return Promise.reject(this.checkError);
    return Promise.resolve({
      run: (progress: (l: string) => void) => this.deploy(dir, opts, progress),
    });
  }

  async deploy(
    dir: string,
    opts: DeployOptions,
    progress: (l: string) => void,
  ) {
    const files: string[] = [];
    const walk = async (rel: string) => {
      for await (const e of Deno.readDir(rel ? `${dir}/${rel}` : dir)) {
        const p = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory) await walk(p);
        else files.push(p);
      }
    };
    await walk("");
    this.deploys.push({
      files: files.sort(),
      opts,
      name: dir.split("/").pop()!,
    });
    for (const line of this.progressLines) progress(line);
    if (this.result instanceof Error) throw this.result;
    return this.result;
  }
  list() {
    return Promise.resolve(this.services);
  }
  remove(service: string) {
    this.removed.push(service);
    return Promise.resolve();
  }
  restart() {
    return Promise.resolve();
  }
  rollback(
    service: string,
    release: number | undefined,
    progress: (l: string) => void,
  ) {
    progress(`rolling back ${service}`);
    return Promise.resolve({
      ok: true,
      service,
      kind: "service" as const,
      release: release ?? 2,
    });
  }
  async *logs(service: string) {
    if (service === "nope") {
      throw new (await import("../lib/errors.ts")).NotFoundError(
        `No service "nope"`,
      );
    }
    yield* this.logLines;
  }
}

/** An API app with a fake platform, a fake clock and the given keys authorized. */
export async function makeApi(
  keys: PrivateKey[],
  settings: string[] = [],
) {
  const dataDir = await Deno.makeTempDir({ prefix: "mypaas_api_" });
  const config = resolveConfig(
    `[server]\ndata_dir = "${dataDir}"\n${settings.join("\n")}\n`,
    { home: dataDir },
  );
  await Deno.writeTextFile(
    `${dataDir}/authorized_keys`,
    keys.map((k) => k.publicKey.text).join("\n") + "\n",
  );
  const platform = new FakePlatform();
  const audit = new MemoryAudit();
  const clock = { now: 1_700_000_000_000 };
  const app = createApiApp({
    platform,
    config,
    authorizedKeys: new AuthorizedKeys(`${dataDir}/authorized_keys`, {
      minCheckMs: 0,
    }),
    audit,
    clock: () => clock.now,
  });
  const fetchApp =
    ((input: string | URL | Request, init?: RequestInit) =>
      Promise.resolve(app.request(input, init))) as typeof fetch;
  return {
    app,
    platform,
    audit,
    clock,
    dataDir,
    config,
    fetch: fetchApp,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dataDir, { recursive: true });
    },
  };
}

async function openssl(args: string[]) {
  const out = await new Deno.Command("openssl", { args, stdin: "null" })
    .output();
  if (!out.success) {
    throw new Error(
      `openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

/**
 * A test CA (`dir/ca.pem`) and a leaf for `names` and 127.0.0.1
 * (`dir/leaf.pem`, `dir/leaf.key`), made with the openssl CLI.
 */
export async function makeTestCa(
  dir: string,
  names: string[] = ["localhost"],
): Promise<void> {
  const ec = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
  ];
  await openssl([
    "req",
    "-x509",
    ...ec,
    "-keyout",
    `${dir}/ca.key`,
    "-out",
    `${dir}/ca.pem`,
    "-days",
    "2",
    "-subj",
    "/CN=mypaas test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await openssl([
    "req",
    ...ec,
    "-keyout",
    `${dir}/leaf.key`,
    "-out",
    `${dir}/leaf.csr`,
    "-subj",
    `/CN=${names[0]}`,
  ]);
  await Deno.writeTextFile(
    `${dir}/leaf.ext`,
    `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")},IP:127.0.0.1\n` +
      "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    `${dir}/leaf.csr`,
    "-CA",
    `${dir}/ca.pem`,
    "-CAkey",
    `${dir}/ca.key`,
    "-CAcreateserial",
    "-out",
    `${dir}/leaf.pem`,
    "-days",
    "2",
    "-extfile",
    `${dir}/leaf.ext`,
  ]);
}

/** Serves `app` over TLS on 127.0.0.1, port 0, with the leaf of `makeTestCa`. */
export async function serveTls(
  dir: string,
  handler: (req: Request) => Response | Promise<Response>,
): Promise<Deno.HttpServer<Deno.NetAddr>> {
  return Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(`${dir}/leaf.pem`),
    key: await Deno.readTextFile(`${dir}/leaf.key`),
    onListen() {},
  }, handler);
}
