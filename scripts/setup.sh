#!/usr/bin/env bash
# Fresh Debian/Ubuntu machine -> ready to run carpool (as root, or through sudo when it exists).
#
#   scripts/setup.sh          what carpool and its demo need: lab tools (iproute2, nftables, conntrack), the
#                             native build (python3, make, g++), `npm ci` (addon + dist/), and
#                             `carpool` on PATH (/usr/local/bin/carpool, a two-line wrapper)
#   scripts/setup.sh --test   also what the tests need: the real peers (ucarp, keepalived), OCF
#                             agents and the services they run (resource-agents, nginx-light,
#                             haproxy), tcpdump, load tools (wrk, stress-ng), chromium and
#                             prometheus (scrapes /metrics), ifupdown and net-tools (seeds 001, 003),
#                             exim4, dovecot and openssl (seed 002 B.11's mail servers), nftlb
#                             (npm run bench:balancer), dpkg-dev, lintian, bash-completion and
#                             man-db (`npm run package`)
#
# It checks Node.js first (>= 20.19), installs only missing packages, and never stops or
# reconfigures a service it did not install: a service is stopped only when this run installed
# its package and the package started it (carpool's tests start their own instances).
set -euo pipefail

RUNTIME_PACKAGES=(iproute2 nftables conntrack procps python3 make g++)
TEST_PACKAGES=(ucarp keepalived resource-agents nginx-light haproxy tcpdump iputils-ping psmisc wrk stress-ng chromium prometheus ifupdown net-tools faketime dnsmasq-base openssl exim4-daemon-light dovecot-imapd dovecot-pop3d nftlb dpkg-dev lintian bash-completion man-db etcd-server etcd-client)
# Packages whose installation starts a service of this name (Debian's maintainer scripts).
declare -A SERVICE_OF=([keepalived]=keepalived [nginx-light]=nginx [haproxy]=haproxy [prometheus]=prometheus [exim4-daemon-light]=exim4 [dovecot-imapd]=dovecot [dovecot-pop3d]=dovecot [nftlb]=nftlb [etcd-server]=etcd)
MIN_NODE=20.19

usage() {
  sed -n '2,17p' "$SELF" | sed 's/^# \{0,1\}//'
}

# node_version_ok VERSION: is `node --version` output VERSION (v20.19.0) at least MIN_NODE?
node_version_ok() {
  local v=${1#v} major minor
  [[ $v =~ ^([0-9]+)\.([0-9]+) ]] || return 1
  major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]}
  local want_major=${MIN_NODE%%.*} want_minor=${MIN_NODE#*.}
  ((major > want_major || (major == want_major && minor >= want_minor)))
}

# check_node: Node.js >= MIN_NODE and npm, or say how to get them (and fail).
check_node() {
  local found='none'
  if command -v node >/dev/null 2>&1; then
    found=$(node --version 2>/dev/null || echo unknown)
    if node_version_ok "$found" && command -v npm >/dev/null 2>&1; then return 0; fi
    if node_version_ok "$found"; then found="$found, but no npm"; fi
  fi
  cat >&2 <<MSG
carpool needs Node.js >= $MIN_NODE with npm (found: $found).
Debian 12's own nodejs package is 18, too old. Get a newer Node.js, then run this again:
  - Debian 13 (trixie): apt-get install nodejs npm   (20.19)
  - NodeSource packages (Node 22 LTS for Debian/Ubuntu): https://github.com/nodesource/distributions
  - the official binaries: https://nodejs.org/en/download (or nvm); they must be on PATH
MSG
  return 1
}

# missing_packages PKG...: those of PKG not installed (dpkg).
missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

# services_to_stop PKG...: services started by installing PKG (the packages this run installed).
services_to_stop() {
  local p
  for p in "$@"; do
    if [[ -n ${SERVICE_OF[$p]:-} ]]; then echo "${SERVICE_OF[$p]}"; fi
  done
}

# install_packages PKG...: apt-get install the missing ones; stop the services that install started.
install_packages() {
  local missing svc
  mapfile -t missing < <(missing_packages "$@")
  if ((${#missing[@]} == 0)); then
    echo "setup: packages: all present"
    return 0
  fi
  echo "setup: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  for svc in $(services_to_stop "${missing[@]}"); do
    if command -v service >/dev/null 2>&1 && service "$svc" status >/dev/null 2>&1; then
      echo "setup: stopping $svc (started by its package, which this run installed; the tests start their own)"
      service "$svc" stop >/dev/null 2>&1 || true
    fi
  done
}

# build: npm ci builds the addon against this Node's own headers (no header download) and dist/.
build() {
  local nodeprefix
  nodeprefix=$(dirname "$(dirname "$(command -v node)")")
  if [ -z "${npm_config_nodedir:-}" ] && [ -f "$nodeprefix/include/node/node_api.h" ]; then
    export npm_config_nodedir="$nodeprefix"
  fi
  npm ci --no-audit --no-fund
}

# link_carpool: `carpool` on PATH: $BINDIR/carpool runs this checkout's bin/carpool with this node.
# An existing carpool there that setup did not write (a package, npm -g) is left alone.
link_carpool() {
  local bindir=${CARPOOL_BINDIR:-/usr/local/bin} target node
  target="$bindir/carpool"
  node=$(command -v node)
  if [ -e "$target" ] && ! grep -q 'written by carpool scripts/setup.sh' "$target" 2>/dev/null; then
    echo "setup: $target exists and was not written by this script: left alone (this checkout: $PWD/bin/carpool)"
    return 0
  fi
  mkdir -p "$bindir"
  printf '#!/bin/sh\n# written by carpool scripts/setup.sh: runs %s with %s\nexec %q %q "$@"\n' \
    "$PWD/bin/carpool" "$node" "$node" "$PWD/bin/carpool" > "$target.tmp"
  chmod 755 "$target.tmp"
  mv -f "$target.tmp" "$target"
  echo "setup: carpool is on PATH: $target -> $PWD/bin/carpool"
}

main() {
  local test=0 arg
  for arg in "$@"; do
    case $arg in
      --test) test=1 ;;
      -h|--help) usage; return 0 ;;
      *) echo "setup: unknown option '$arg' (options: --test, --help)" >&2; return 2 ;;
    esac
  done
  check_node || return 1
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      echo "setup: not root: running again with sudo"
      exec sudo -- env "PATH=$PATH" bash "$SELF" "$@"
    fi
    echo "setup: needs root (apt-get, $PWD/node_modules, /usr/local/bin) and sudo is not installed." >&2
    echo "  Run it as root instead, e.g.: su -c 'cd $PWD && ./scripts/setup.sh${*:+ $*}'" >&2
    return 1
  fi
  local packages=("${RUNTIME_PACKAGES[@]}")
  if ((test)); then packages+=("${TEST_PACKAGES[@]}"); fi
  install_packages "${packages[@]}"
  build
  link_carpool
}

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/setup.sh
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  cd "$(dirname "$SELF")/.."
  main "$@"
fi
