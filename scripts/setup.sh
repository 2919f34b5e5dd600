#!/usr/bin/env bash
# Fresh Debian/Ubuntu machine -> ready to run carpool and its tests (run as root).
# Installs the real peers the tests run against (ucarp, keepalived, resource-agents...)
# and the tools the lab uses, then builds carpool (native addon + TypeScript) with npm ci.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
packages=(
  iproute2 nftables tcpdump iputils-ping procps psmisc python3 make g++   # lab, native build
  ucarp keepalived                                                       # real peers (interop, benchmarks)
  resource-agents nginx-light haproxy                                    # real OCF agents and services
  wrk stress-ng                                                          # load for benchmarks
  faketime                                                               # wall-clock jumps in npm run soak
  chromium                                                               # headless check of the status page
)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts these services on install where it can; carpool's tests start their own.
for svc in keepalived nginx haproxy; do
  if command -v service >/dev/null && service "$svc" status >/dev/null 2>&1; then service "$svc" stop >/dev/null 2>&1 || true; fi
done
# Build the addon against this Node's own headers (no header download on a closed network).
nodeprefix=$(dirname "$(dirname "$(command -v node)")")
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$nodeprefix/include/node/node_api.h" ]; then
  export npm_config_nodedir="$nodeprefix"
fi
npm ci --no-audit --no-fund
