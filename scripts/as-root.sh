#!/usr/bin/env bash
# Run a command as root: directly when root already, else through sudo (keeping PATH, so the same
# node and npm are used). Without sudo it says what to do instead. Used by `npm run demo` and `npm test`.
set -euo pipefail
if [ "$(id -u)" = 0 ]; then exec "$@"; fi
if command -v sudo >/dev/null 2>&1; then exec sudo -- env "PATH=$PATH" "$@"; fi
echo "carpool: this needs root (network namespaces, raw sockets) and sudo is not installed." >&2
echo "  Run it as root instead, e.g.: su -c 'cd $PWD && $*'" >&2
exit 1
