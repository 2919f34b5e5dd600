#!/usr/bin/env bash
# Build carpool's Debian package from this checkout: `npm run package` (after `npm ci`).
#
#   scripts/package.sh [OUTDIR]   writes OUTDIR/carpool_<version>_<arch>.deb (default build/deb)
#
# Architecture-dependent (the native addon is compiled for this machine's architecture and
# libc), so the package is named for `dpkg --print-architecture` and depends on the libc the
# addon needs (dpkg-shlibdeps). Contents: /usr/lib/carpool (dist/, bin/, the stripped addon,
# production node_modules from `npm ci --omit=dev`), /usr/sbin/carpool and the ucarp entry point
# /usr/lib/carpool/ucarp, the systemd units, /etc/carpool/ examples (mode 0600, conffiles), the
# man pages carpool(8) and carpool.yaml(5), bash completion, docs. README.md, "Debian package",
# explains the choices.
# Needs dpkg-dev (dpkg-shlibdeps) and binutils (strip); no root (files are owned by root in the
# archive: dpkg-deb --root-owner-group).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
OUT=${1:-build/deb}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac

die() { echo "package: $*" >&2; exit 1; }

ADDON=build/Release/carpool_net.node
[ -f "$ADDON" ] && [ -f dist/cli/main.js ] || die "no build found ($ADDON, dist/): run \`npm ci\` first"
for tool in dpkg-deb dpkg-shlibdeps strip gzip npm; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (apt-get install dpkg-dev binutils gzip; npm comes with Node.js)"
done

NAME=carpool
VERSION=$(node -p "require('./package.json').version")
ARCH=$(dpkg --print-architecture)
MAINTAINER='carpool maintainers <maintainers@users.noreply.h-seed-7baff027.example>'
# Reproducible dates: the last commit's, else now.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/carpool-deb.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
PKG=$STAGE/pkg
LIB=$PKG/usr/lib/carpool
DOC=$PKG/usr/share/doc/$NAME

# /usr/lib/carpool: production dependencies only, exactly as locked; no install scripts (ours
# would rebuild the addon, the dependencies have none).
mkdir -p "$LIB/bin" "$LIB/build/Release"
cp package.json package-lock.json "$LIB/"
(cd "$LIB" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null) \
  || die "npm ci --omit=dev failed in $LIB"
rm -f "$LIB/package-lock.json" "$LIB/node_modules/.package-lock.json"
# Their licences stay; their READMEs, changelogs and npm's packaging leftovers (.npmignore:
# lintian's package-contains-npm-ignore-file) are not needed at run time. Upstream modes vary:
# scripts (#!) 0755, everything else 0644.
find "$LIB/node_modules" -type f \( -iname 'readme*' -o -iname 'changelog*' -o -name '.npmignore' \) -delete
find "$LIB/node_modules" -type f -exec chmod 644 {} +
grep -rlZ --include='*' -m1 '^#!' "$LIB/node_modules" | while IFS= read -r -d '' f; do
  [ "$(head -c2 "$f")" = '#!' ] && chmod 755 "$f"
done
# dist/ compiled afresh (no stale files of removed sources, no source maps).
npx tsc -p tsconfig.build.json --outDir "$LIB/dist" --sourceMap false || die "tsc failed"
install -m 755 bin/carpool "$LIB/bin/carpool"
install -m 644 "$ADDON" "$LIB/build/Release/carpool_net.node"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$LIB/build/Release/carpool_net.node"

# Entry points: /usr/bin/node explicitly (the nodejs package), not whatever `node` PATH finds.
# The process keeps the wrapper's PID (exec), so start-stop-daemon PID files stay right.
mkdir -p "$PKG/usr/sbin"
printf '#!/bin/sh\nexec /usr/bin/node /usr/lib/carpool/bin/carpool "$@"\n' > "$PKG/usr/sbin/carpool"
# ucarp's name for init scripts and hooks that run ucarp (UCARP_EXEC=/usr/lib/carpool/ucarp);
# /usr/sbin/ucarp is not diverted (README.md, "Debian package").
printf '#!/bin/sh\nexec /usr/bin/node /usr/lib/carpool/bin/carpool ucarp "$@"\n' > "$LIB/ucarp"
chmod 755 "$PKG/usr/sbin/carpool" "$LIB/ucarp"

# systemd units (Debian 12: /lib/systemd/system).
install -D -m 644 contrib/systemd/carpool.service "$PKG/lib/systemd/system/carpool.service"
install -D -m 644 contrib/systemd/carpool-ucarp@.service "$PKG/lib/systemd/system/carpool-ucarp@.service"

# /etc/carpool: examples only (carpool.service needs /etc/carpool/carpool.yaml, which the
# package does not create: nothing starts before the administrator writes it). 0600: passwords.
install -D -m 600 contrib/debian/carpool.yaml.example "$PKG/etc/carpool/carpool.yaml.example"
install -D -m 600 contrib/systemd/ucarp-example.conf "$PKG/etc/carpool/ucarp/example.conf"

# ifupdown hook and default vip-up/vip-down, to install by hand (README).
install -D -m 755 contrib/ifupdown/carpool-ucarp "$PKG/usr/share/carpool/ifupdown/carpool-ucarp"
install -m 755 contrib/ifupdown/vip-up contrib/ifupdown/vip-down "$PKG/usr/share/carpool/ifupdown/"

# Man pages and bash completion.
install -D -m 644 contrib/man/carpool.8 "$PKG/usr/share/man/man8/carpool.8"
install -D -m 644 contrib/man/carpool.yaml.5 "$PKG/usr/share/man/man5/carpool.yaml.5"
gzip -9n "$PKG/usr/share/man/man8/carpool.8" "$PKG/usr/share/man/man5/carpool.yaml.5"
install -D -m 644 contrib/bash-completion/carpool "$PKG/usr/share/bash-completion/completions/carpool"

# Documentation: copyright, changelogs, the docs.
install -D -m 644 contrib/debian/copyright "$DOC/copyright"
install -m 644 README.md docs/config.md docs/resources.md docs/balancer.md docs/failure-modes.md "$DOC/"
gzip -9n -c CHANGELOG.md > "$DOC/changelog.gz"
{
  printf '%s (%s) unstable; urgency=medium\n\n' "$NAME" "$VERSION"
  printf '  * Built from the carpool source tree; see changelog.gz.\n\n'
  printf ' -- %s  %s\n' "$MAINTAINER" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$DOC/changelog.Debian.gz"
chmod 644 "$DOC"/*

# Maintainer scripts and control.
mkdir -p "$PKG/DEBIAN"
for s in postinst prerm postrm; do install -m 755 "contrib/debian/$s" "$PKG/DEBIAN/$s"; done
(cd "$PKG" && find etc -type f | sed 's#^#/#' | sort) > "$PKG/DEBIAN/conffiles"
chmod 644 "$PKG/DEBIAN/conffiles"

# The libc (and whatever else) the addon links against, as Debian computes it.
mkdir -p "$STAGE/shlibs/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$NAME" "$NAME" > "$STAGE/shlibs/debian/control"
SHLIBS=$(cd "$STAGE/shlibs" && dpkg-shlibdeps -O "$LIB/build/Release/carpool_net.node" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$SHLIBS" ] || die "dpkg-shlibdeps found no dependencies for the addon"

find "$PKG" -type d -exec chmod 755 {} +
find "$PKG" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$PKG" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$PKG/DEBIAN/md5sums"
chmod 644 "$PKG/DEBIAN/md5sums"
SIZE=$(du -sk --exclude=DEBIAN "$PKG" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE@/$SIZE/" \
    -e "s/@SHLIBS@/$SHLIBS/" -e "s/@MAINTAINER@/$MAINTAINER/" contrib/debian/control > "$PKG/DEBIAN/control"

mkdir -p "$OUT"
DEB=$OUT/${NAME}_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group -Zxz --build "$PKG" "$DEB" >/dev/null
echo "$DEB"
