// deno-lint-ignore-file no-console -- cmd/ is where output to a person belongs
/**
 * @module
 * `mypaas server init`: writes `<data_dir>/config.toml` (from the config
 * SCHEMA, production ports), an empty `authorized_keys` (0600) and the
 * systemd unit. Idempotent: an existing config is kept as it is ([env] and
 * every other edit), except for keys given as flags; files are rewritten
 * only when their content changes.
 */
import type { Command } from "commander";
import {
  expandHome,
  keyComment,
  resolveConfig,
  SCHEMA,
} from "../lib/config/mod.ts";
import type { KeySchema } from "../lib/config/mod.ts";
import { InputError } from "../lib/errors.ts";
import { selfCommand, unitText } from "./_systemd_unit.ts";

interface InitFlags {
  yes?: boolean;
  domain?: string;
  email?: string;
  dataDir?: string;
  systemd: boolean;
  unitDir: string;
}

/** Values `init` sets on top of the schema defaults. */
const PRODUCTION: Record<string, Record<string, string | number>> = {
  server: { http_port: 80, https_port: 443 },
};

/** The text of a fresh config.toml: every key documented, set ones active. */
export function configText(
  set: Record<string, Record<string, string | number>>,
): string {
  const lines = [
    '# mypaas daemon configuration, written by "mypaas server init".',
    "# Commented keys show their defaults. Edits are kept by later inits;",
    "# the daemon reloads this file on SIGHUP (systemctl reload mypaas).",
    "",
  ];
  for (const [section, keys] of Object.entries(SCHEMA)) {
    lines.push(`[${section}]`);
    for (const [key, schema] of Object.entries(keys) as [string, KeySchema][]) {
      const value = set[section]?.[key];
      lines.push(`# ${keyComment(schema)}`);
      lines.push(
        value === undefined
          ? `# ${key} = ${toml(schema.default)}`
          : `${key} = ${toml(value)}`,
      );
    }
    lines.push("");
  }
  lines.push(
    "[env]",
    "# secrets for mypaas.env=KEY, e.g.",
    '# EXAMPLE_SECRET = "foobar"',
    "",
  );
  return lines.join("\n");
}

function toml(v: unknown): string {
  return JSON.stringify(v);
}

/** Sets `key = value` in `[section]` of existing TOML text, changing only that line. */
export function setKey(
  text: string,
  section: string,
  key: string,
  value: string | number,
): string {
  const lines = text.split("\n");
  let inSection = false;
  let header = -1;
  for (const [i, line] of lines.entries()) {
    const h = /^\s*\[([^\]]+)\]\s*(#.*)?$/.exec(line);
    if (h) {
      if (inSection) break;
      inSection = h[1]!.trim() === section;
      if (inSection) header = i;
      continue;
    }
    if (inSection && new RegExp(`^\\s*${key}\\s*=`).test(line)) {
      const next = `${key} = ${toml(value)}`;
      if (line === next) return text;
      lines[i] = next;
      return lines.join("\n");
    }
  }
  if (header < 0) {
    return `${text.replace(/\n*$/, "\n")}\n[${section}]\n${key} = ${
      toml(value)
    }\n`;
  }
  lines.splice(header + 1, 0, `${key} = ${toml(value)}`);
  return lines.join("\n");
}

/** Writes `text` to `path` only when it differs; true when written. */
async function writeIfChanged(
  path: string,
  text: string,
  mode: number,
): Promise<boolean> {
  try {
    if ((await Deno.readTextFile(path)) === text) return false;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  await Deno.writeTextFile(path, text, { mode });
  await Deno.chmod(path, mode);
  return true;
}

function ask(question: string, fallback: string): string {
  const answer = prompt(`${question} [${fallback}]:`);
  return answer?.trim() || fallback;
}

/** Runs `server init`. */
export async function serverInit(flags: InitFlags): Promise<void> {
  const home = Deno.env.get("HOME") ?? "/root";
  const dataDir = expandHome(flags.dataDir ?? "~/_mypaas", home);
  if (!dataDir.startsWith("/")) {
    throw new InputError(
      `--data-dir must be an absolute path, got "${flags.dataDir}"`,
    );
  }
  const configFile = `${dataDir}/config.toml`;
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  let existing: string | undefined;
  try {
    existing = await Deno.readTextFile(configFile);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const interactive = !flags.yes && Deno.stdin.isTerminal() &&
    existing === undefined;
  const domain = flags.domain ??
    (interactive ? ask("Admin domain of this server", "localhost") : undefined);
  const email = flags.email ??
    (interactive
      ? ask("ACME (Let's Encrypt) email, empty for self-signed only", "")
      : undefined);
  let text: string;
  if (existing === undefined) {
    const set = structuredClone(PRODUCTION);
    if (flags.dataDir) set.server!.data_dir = dataDir;
    if (domain) set.server!.domain = domain;
    if (email) set.acme = { email };
    text = configText(set);
  } else {
    text = existing;
    if (flags.domain !== undefined) {
      text = setKey(text, "server", "domain", flags.domain);
    }
    if (flags.email !== undefined) {
      text = setKey(text, "acme", "email", flags.email);
    }
    if (flags.dataDir !== undefined) {
      text = setKey(text, "server", "data_dir", dataDir);
    }
  }
  // Never write a config the daemon would refuse.
  const config = resolveConfig(text, { home, file: configFile });
  const report = (what: string, changed: boolean) =>
    console.log(`${changed ? "wrote    " : "unchanged"} ${what}`);
  report(configFile, await writeIfChanged(configFile, text, 0o600));
  const keys = `${dataDir}/authorized_keys`;
  let keysChanged = false;
  try {
    const st = await Deno.stat(keys);
    if ((st.mode ?? 0) & 0o077) {
      await Deno.chmod(keys, 0o600);
      keysChanged = true;
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    await Deno.writeTextFile(
      keys,
      '# One public key per line, as "mypaas key-get" prints it (rsa-pub-... or ed25519-pub-...)\n',
      { mode: 0o600 },
    );
    keysChanged = true;
  }
  report(keys, keysChanged);
  if (!flags.systemd) return;
  const self = selfCommand();
  const denoDir = Deno.env.get("DENO_DIR") ?? `${home}/.cache/deno`;
  const unit = unitText({
    command: self.command,
    configFile,
    dataDir,
    home,
    writable: [
      ...new Set([
        config.server.dataDir,
        config.cache.dir,
        config.server.controlSocket.replace(/\/[^/]*$/, ""),
        ...(self.compiled ? [] : [denoDir]),
      ]),
    ].filter((p) => p && p !== dataDir && !p.startsWith(`${dataDir}/`)),
  });
  await Deno.mkdir(flags.unitDir, { recursive: true });
  const unitFile = `${flags.unitDir}/mypaas.service`;
  const changed = await writeIfChanged(unitFile, unit, 0o644);
  report(unitFile, changed);
  if (changed && flags.unitDir === "/etc/systemd/system") {
    console.log(
      "Now run: systemctl daemon-reload && systemctl enable --now mypaas",
    );
  }
}

/** Adds `mypaas server init`. */
export function registerServerInit(server: Command): void {
  server.command("init")
    .description(
      "write config.toml, authorized_keys and the systemd unit (safe to run again)",
    )
    .option("-y, --yes", "do not ask; use the flags and defaults")
    .option("--domain <host>", "admin domain (/daemon/* on it is the push API)")
    .option(
      "--email <address>",
      "ACME account email (empty: self-signed certificates only)",
    )
    .option(
      "--data-dir <dir>",
      "data directory (default ~/_mypaas); config.toml goes there",
    )
    .option("--no-systemd", "do not write the systemd unit")
    .option(
      "--unit-dir <dir>",
      "where to write mypaas.service",
      "/etc/systemd/system",
    )
    .action((flags: InitFlags) => serverInit(flags));
}
