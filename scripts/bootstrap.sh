#!/usr/bin/env bash
# Installs what the daemon needs when it is missing, on Debian or Ubuntu, as
# root or through sudo: Node/npm through apt (only to install Deno), Deno 2.9.6
# through npm, iproute2 for `ss` (the proxy closes slow connections with it).
# Never installs Docker. Says what it installs and why, and records it in
# $MYPAAS_BOOTSTRAP_RECORD (default /var/lib/mypaas/bootstrap-installed) so
# that README's uninstall steps can remove it again.
#
#   scripts/bootstrap.sh [--dry-run]
#
# --dry-run prints the decisions (the "plan:" lines) and installs nothing.
# Uses only bash builtins besides the commands it checks for and runs, so a
# test can drive its decisions with a PATH of stub commands.
set -euo pipefail

DENO_VERSION=2.9.6
RECORD=${MYPAAS_BOOTSTRAP_RECORD:-/var/lib/mypaas/bootstrap-installed}
dry_run=0
for arg in "$@"; do
  case "$arg" in
  --dry-run) dry_run=1 ;;
  -h | --help)
    echo "usage: scripts/bootstrap.sh [--dry-run]"
    exit 0
    ;;
  *)
    echo "bootstrap: unknown argument \"$arg\"; usage: scripts/bootstrap.sh [--dry-run]" >&2
    exit 2
    ;;
  esac
done

say() { echo "bootstrap: $*"; }
fail() {
  echo "bootstrap: error: $*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

deno_version() {
  local out
  out=$(deno --version 2>/dev/null) || return 0
  out=${out%%$'\n'*}  # "deno 2.9.6 (stable, ...)"
  out=${out#deno }
  echo "${out%% *}"
}

# --- what is missing --------------------------------------------------------
apt_pkgs=()
apt_why=()
need_deno=0
deno_now=""
if have deno; then
  deno_now=$(deno_version)
  if [ "$deno_now" != "$DENO_VERSION" ]; then
    need_deno=1
    say "deno is ${deno_now:-of an unknown version}, the daemon needs $DENO_VERSION: will install Deno $DENO_VERSION with npm"
  fi
else
  need_deno=1
  say "deno not found: will install Deno $DENO_VERSION with npm (the daemon and its isolates run on it)"
fi
if [ "$need_deno" = 1 ] && ! have npm; then
  apt_pkgs+=(nodejs npm)
  apt_why+=("nodejs npm: npm installs Deno")
fi
if ! have ss; then
  apt_pkgs+=(iproute2)
  apt_why+=("iproute2: the proxy lists and closes slow client connections with ss")
fi

# --- how to install it --------------------------------------------------------
uid=$(id -u 2>/dev/null || echo "${EUID:-}")
as_root=()
if [ "$uid" != 0 ]; then
  as_root=(sudo)
fi
what=()
[ ${#apt_pkgs[@]} -gt 0 ] && what+=("${apt_pkgs[@]}")
[ "$need_deno" = 1 ] && what+=("deno@$DENO_VERSION")

if [ ${#what[@]} -gt 0 ]; then
  if [ "$uid" != 0 ] && ! have sudo; then
    fail "cannot install ${what[*]}: not root and no sudo. Run ./start as root, or install them yourself (Deno $DENO_VERSION: npm install -g deno@$DENO_VERSION)"
  fi
  if [ ${#apt_pkgs[@]} -gt 0 ] && ! have apt-get; then
    fail "cannot install ${apt_pkgs[*]}: no apt-get here (bootstrap supports Debian and Ubuntu). Elsewhere install Deno $DENO_VERSION (and iproute2 for ss) first, then run ./start"
  fi
fi

for why in "${apt_why[@]+"${apt_why[@]}"}"; do say "will install $why"; done
if [ ${#apt_pkgs[@]} -gt 0 ]; then
  echo "plan: ${as_root[*]+${as_root[*]} }apt-get install ${apt_pkgs[*]}"
fi
if [ "$need_deno" = 1 ]; then
  echo "plan: ${as_root[*]+${as_root[*]} }npm install -g deno@$DENO_VERSION"
fi
if [ ${#what[@]} -eq 0 ]; then
  echo "plan: nothing to install"
fi
if ! have docker; then
  say "note: Docker not found and not installed: functions run without it. For container services install it yourself (Debian/Ubuntu: apt-get install docker.io) and start the daemon again"
fi

if [ "$dry_run" = 1 ]; then
  [ ${#what[@]} -gt 0 ] && say "dry run: nothing installed"
  exit 0
fi
[ ${#what[@]} -eq 0 ] && exit 0

# --- install ------------------------------------------------------------------
root() { "${as_root[@]+"${as_root[@]}"}" "$@"; }
record() {
  root mkdir -p "${RECORD%/*}" || fail "cannot create ${RECORD%/*} to record what was installed"
  printf '%s\n' "$@" | root tee -a "$RECORD" >/dev/null || fail "cannot write $RECORD"
}

if [ ${#apt_pkgs[@]} -gt 0 ]; then
  say "installing ${apt_pkgs[*]} with apt-get"
  root env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
    fail "apt-get update failed, so ${apt_pkgs[*]} could not be installed (is an apt mirror reachable?)"
  root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${apt_pkgs[@]}" ||
    fail "could not install ${apt_pkgs[*]} with apt-get (see its output above)"
  lines=()
  for p in "${apt_pkgs[@]}"; do lines+=("apt $p"); done
  record "${lines[@]}"
  hash -r
  for c in "${apt_pkgs[@]}"; do
    case "$c" in
    npm) have npm || fail "apt-get installed npm but npm is not on PATH ($PATH)" ;;
    iproute2) have ss || fail "apt-get installed iproute2 but ss is not on PATH ($PATH)" ;;
    esac
  done
fi

if [ "$need_deno" = 1 ]; then
  say "installing Deno $DENO_VERSION with npm"
  root npm install -g "deno@$DENO_VERSION" ||
    fail "could not install Deno $DENO_VERSION with npm (see its output above; is the npm registry reachable?)"
  record "npm deno"
  hash -r
  have deno || fail "npm installed Deno $DENO_VERSION but deno is not on PATH ($PATH); add npm's bin directory ($(npm prefix -g 2>/dev/null)/bin)"
  got=$(deno_version)
  [ "$got" = "$DENO_VERSION" ] ||
    fail "npm installed Deno $DENO_VERSION but the deno first on PATH ($(command -v deno)) is ${got:-of an unknown version}; remove it or put $(npm prefix -g 2>/dev/null)/bin first on PATH"
fi
say "done: installed ${what[*]} (recorded in $RECORD)"
