// deno-lint-ignore-file no-console -- cmd/ is where output to a person belongs
/**
 * @module
 * `mypaas push SERVER DIR`, `mypaas status SERVER`,
 * `mypaas logs SERVER SERVICE [--follow]`, `mypaas rollback SERVER SERVICE
 * [RELEASE]` and `mypaas remove SERVER SERVICE`: the remote client. Push exits 0
 * only when the deploy succeeded, 1 when it failed, 2 on bad input (a
 * missing directory, or a request the server refused with a 4xx).
 */
import type { Command } from "commander";
import { ApiClient, readStream } from "../lib/api/client.ts";
import {
  PUSH_OPTIONS_FILE,
  type PushOptions,
} from "../lib/api/push_options.ts";
import { packDir } from "../lib/archive/mod.ts";
import { InputError } from "../lib/errors.ts";
import { ExitCode } from "./_exit.ts";
import { clientKey } from "./keys.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

interface PushFlags {
  domain: string[];
  entryPoint?: string;
  env: string[];
  skipOptimize?: boolean;
  ca?: string;
}

/** A fetch that also trusts `caFile` (PEM) when given. */
async function clientFetch(caFile: string | undefined): Promise<typeof fetch> {
  if (!caFile) return fetch;
  let pem: string;
  try {
    pem = await Deno.readTextFile(caFile);
  } catch (err) {
    throw new InputError(`--ca ${caFile}: ${(err as Error).message}`);
  }
  const client = Deno.createHttpClient({ caCerts: [pem] });
  return ((input: string | URL | Request, init?: RequestInit) =>
    fetch(input, { ...init, client })) as typeof fetch;
}

async function connect(
  server: string,
  ca: string | undefined,
): Promise<ApiClient> {
  return new ApiClient({
    server,
    key: await clientKey(),
    fetch: await clientFetch(ca),
  });
}

/** Turns a non-2xx answer into the exit code: 4xx is bad input (2). */
async function failOnStatus(res: Response, what: string): Promise<void> {
  if (res.ok) return;
  const text = (await res.text()).trim();
  throw new ExitCode(
    res.status >= 400 && res.status < 500 ? 2 : 1,
    `${what} refused: HTTP ${res.status}: ${text}`,
  );
}

function human(n: number): string {
  return n < 1024
    ? `${n} B`
    : n < 1 << 20
    ? `${(n / 1024).toFixed(1)} KiB`
    : `${(n / (1 << 20)).toFixed(1)} MiB`;
}

async function push(
  server: string,
  dir: string,
  flags: PushFlags,
): Promise<void> {
  let st;
  try {
    st = await Deno.stat(dir);
  } catch {
    throw new InputError(`DIR "${dir}" does not exist`);
  }
  if (!st.isDirectory) throw new InputError(`DIR "${dir}" is not a directory`);
  const base = (await Deno.realPath(dir)).split("/").pop() ?? "";
  const name = base.replace(/[^A-Za-z0-9._-]+/g, "-").replace(
    /^[^A-Za-z0-9]+/,
    "",
  )
    .slice(0, 63);
  const opts: PushOptions = name ? { name } : {};
  if (flags.domain.length) opts.domains = flags.domain;
  if (flags.env.length) opts.env = flags.env;
  if (flags.entryPoint) opts.entrypoint = flags.entryPoint;
  if (flags.skipOptimize) opts.skipOptimize = true;
  const extraFiles = {
    [PUSH_OPTIONS_FILE]: new TextEncoder().encode(JSON.stringify(opts)),
  };
  const api = await connect(server, flags.ca);
  console.log(`Packing ${dir} ...`);
  const { zip, files } = await packDir(dir, { extraFiles });
  const tty = Deno.stdout.isTerminal();
  console.log(
    `Pushing ${files} files (${human(zip.length)}) to ${api.base} ...`,
  );
  let lastPct = -1;
  const res = await api.push(zip, (sent, total) => {
    const pct = Math.floor((sent / total) * 100);
    if (tty) {
      Deno.stdout.writeSync(
        new TextEncoder().encode(
          `\rUploading ${pct}% (${human(sent)} / ${human(total)})`,
        ),
      );
      if (sent === total) console.log();
    } else if (pct >= lastPct + 25 || sent === total) {
      console.log(`Uploaded ${human(sent)} of ${human(total)}`);
      lastPct = pct;
    }
  });
  await failOnStatus(res, "Push");
  await finish(res, "Deploy");
}

/** Prints a streamed operation and turns its marker line into the exit code. */
async function finish(res: Response, what: string): Promise<void> {
  const end = await readStream(res, (line) => console.log(line));
  switch (end.status) {
    case "ok":
      console.log(`${what} ok${end.detail ? ` (${end.detail})` : ""}`);
      return;
    case "refused":
      throw new ExitCode(2, `${what} refused: ${end.detail}`);
    case "failed":
      throw new ExitCode(1, `${what} failed: ${end.detail}`);
    default:
      throw new ExitCode(1, `${what} result unknown: ${end.detail}`);
  }
}

/** Adds `push`, `status` and `logs`. */
export function registerPush(program: Command): void {
  program.command("push <server> <dir>")
    .description(
      "upload DIR to the daemon at SERVER (https://host[:port] or a host) and deploy it",
    )
    .option(
      "--domain <host>",
      "serve a function at https://HOST (repeatable)",
      collect,
      [],
    )
    .option("--entry-point <file>", "entry file of a function directory")
    .option(
      "--env <name[=value]>",
      "set a variable; bare NAME comes from the server's [env] (repeatable)",
      collect,
      [],
    )
    .option("--skip-optimize", "functions: deploy the sources without bundling")
    .option(
      "--ca <file>",
      "also trust this CA certificate (PEM), e.g. a private or test CA",
    )
    .action((server: string, dir: string, flags: PushFlags) =>
      push(server, dir, flags)
    );

  program.command("status <server>")
    .description("list the services on SERVER")
    .option("--ca <file>", "also trust this CA certificate (PEM)")
    .action(async (server: string, flags: { ca?: string }) => {
      const api = await connect(server, flags.ca);
      const res = await api.request("GET", "status");
      await failOnStatus(res, "Status");
      Deno.stdout.writeSync(new TextEncoder().encode(await res.text()));
    });

  program.command("logs <server> <service>")
    .description("print the log of SERVICE on SERVER")
    .option("-f, --follow", "keep printing new lines until interrupted")
    .option("--tail <n>", "only the last N lines")
    .option("--ca <file>", "also trust this CA certificate (PEM)")
    .action(
      async (
        server: string,
        service: string,
        flags: { follow?: boolean; tail?: string; ca?: string },
      ) => {
        const api = await connect(server, flags.ca);
        const params: Record<string, string> = { service };
        if (flags.follow) params.follow = "1";
        if (flags.tail) params.tail = flags.tail;
        const res = await api.request("GET", "logs", params);
        await failOnStatus(res, "Logs");
        if (!res.body) return;
        for await (const chunk of res.body) Deno.stdout.writeSync(chunk);
      },
    );

  program.command("rollback <server> <service> [release]")
    .description(
      "serve an earlier release of SERVICE again (default: the previous one)",
    )
    .option("--ca <file>", "also trust this CA certificate (PEM)")
    .action(
      async (
        server: string,
        service: string,
        release: string | undefined,
        flags: { ca?: string },
      ) => {
        const api = await connect(server, flags.ca);
        const res = await api.request("POST", "rollback", {
          service,
          ...(release ? { release } : {}),
        });
        await failOnStatus(res, "Rollback");
        await finish(res, "Rollback");
      },
    );

  program.command("remove <server> <service>")
    .description("stop SERVICE on SERVER and remove its routes")
    .option("--ca <file>", "also trust this CA certificate (PEM)")
    .action(async (server: string, service: string, flags: { ca?: string }) => {
      const api = await connect(server, flags.ca);
      const res = await api.request("POST", "remove", { service });
      await failOnStatus(res, "Remove");
      await finish(res, "Remove");
    });
}
