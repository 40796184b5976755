/**
 * @module
 * The systemd unit `server init` installs: restarts always, hardened, yet
 * able to reach the Docker socket (no PrivateDevices/ProtectKernel* or
 * RestrictAddressFamilies without AF_UNIX) and to bind :80/:443.
 */

/** What the unit needs to know. */
export interface UnitOptions {
  /** argv of ExecStart up to (not including) `server run`. */
  command: string[];
  configFile: string;
  dataDir: string;
  home: string;
  /** Extra writable paths (e.g. the Deno cache when run from source). */
  writable?: string[];
}

/** The command that runs this program: the compiled binary, or deno + main.ts. */
export function selfCommand(): { command: string[]; compiled: boolean } {
  const exe = Deno.execPath();
  const main = Deno.mainModule;
  const compiled = main.includes("/deno-compile-") || !/\/deno$/.test(exe);
  if (compiled) return { command: [exe], compiled };
  const path = decodeURIComponent(new URL(main).pathname);
  return { command: [exe, "run", "-A", path], compiled };
}

function quote(arg: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(arg)
    ? arg
    : `"${arg.replace(/(["\\])/g, "\\$1")}"`;
}

/** The unit file text. */
export function unitText(o: UnitOptions): string {
  const exec = [...o.command, "server", "run", "--config", o.configFile].map(
    quote,
  ).join(" ");
  const writable = [
    quote(o.dataDir),
    ...(o.writable ?? []).map((p) => `-${quote(p)}`),
  ]
    .join(" ");
  return `# Written by "mypaas server init" (rewritten when it changes); keep local
# changes in a drop-in: systemctl edit mypaas
[Unit]
Description=mypaas: self-hosted PaaS daemon (proxy, deploys, functions)
After=network-online.target docker.service
Wants=network-online.target docker.service

[Service]
Type=simple
ExecStart=${exec}
ExecReload=/bin/kill -HUP $MAINPID
Restart=always
RestartSec=2
TimeoutStopSec=45
KillMode=mixed
Environment=HOME=${quote(o.home)}
WorkingDirectory=${quote(o.dataDir)}
LimitNOFILE=65536
# CPU: the daemon (proxy, isolates) keeps the default weight; builds run at
# the lowest (cpu.shares 2, cpu.weight 1 on cgroup v2) under Docker's own
# cgroups, so no Delegate=: Docker, not mypaas, makes container cgroups.
CPUWeight=100
AmbientCapabilities=CAP_NET_BIND_SERVICE
# Hardening that keeps /var/run/docker.sock reachable.
NoNewPrivileges=true
ProtectSystem=full
ProtectHome=read-only
ReadWritePaths=${writable}
PrivateTmp=true
ProtectHostname=true
ProtectClock=true
ProtectControlGroups=true
RestrictSUIDSGID=true
RestrictRealtime=true
LockPersonality=true
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK

[Install]
WantedBy=multi-user.target
`;
}
