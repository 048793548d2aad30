#!/usr/bin/env bash
# Installs what Orva needs on Debian 12 with Node 20, idempotently: the
# system packages the design names and the npm dependencies. Run by both
# `npm start` and `npm test`; fast when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'orva setup: %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" != "20" ]; then
  say "Node 20 is required (found $(node --version)): uWebSockets.js ships native builds for Node 20 only."
  exit 1
fi

# command -> Debian package that provides it
declare -A NEED=(
  [/usr/bin/bwrap]=bubblewrap
  [/usr/bin/slirp4netns]=slirp4netns
  [/usr/bin/pasta]=passt
  [/usr/bin/setpriv]=util-linux
  [/usr/bin/python3]=python3
  [/usr/lib/python3/dist-packages/msgpack]=python3-msgpack
  [/usr/lib/python3/dist-packages/pip]=python3-pip
  [/usr/lib/python3/dist-packages/seccomp.cpython-*.so]=python3-seccomp
  [/usr/sbin/nft]=nftables
  [/usr/sbin/ip]=iproute2
  [/usr/bin/g++]=g++
  [/usr/bin/make]=make
)
missing=()
for path in "${!NEED[@]}"; do
  if ! ls $path >/dev/null 2>&1; then missing+=("${NEED[$path]}"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != "0" ]; then
    say "missing system packages: ${missing[*]}"
    say "run as root, or install them first: sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
  say "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# nats-server >= 2.10.23: before it JetStream cannot fsync before acknowledging (sync_interval),
# and 2.10.20-22 could lose a stream after kill -9. Debian 12 has 2.9.10; Debian 13 (trixie) has
# 2.10.27, a Go binary that needs only libc >= 2.34. Taken from trixie, pinned so that nothing
# else ever comes from that suite.
NATS_MIN=2.10.23
nats_version() { /usr/sbin/nats-server --version 2>/dev/null | sed -n 's/^nats-server: v//p'; }
if ! dpkg --compare-versions "$(nats_version)" ge "$NATS_MIN" 2>/dev/null; then
  if [ "$(id -u)" != "0" ]; then
    say "nats-server >= $NATS_MIN is required (found: $(nats_version || true)); as root, this script installs Debian 13's"
    exit 1
  fi
  say "installing nats-server >= $NATS_MIN from Debian 13 (trixie), pinned to that one package"
  cat > /etc/apt/sources.list.d/orva-trixie.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  cat > /etc/apt/preferences.d/orva-nats-server <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 1

Package: nats-server
Pin: release n=trixie
Pin-Priority: 990
PIN
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nats-server >/dev/null
  dpkg --compare-versions "$(nats_version)" ge "$NATS_MIN" || { say "nats-server is still $(nats_version)"; exit 1; }
fi

# npm dependencies: reinstall only when package.json or the lock changed.
stamp=node_modules/.orva-setup-stamp
want=$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing npm dependencies (better-sqlite3 compiles from source: about a minute)"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
  node -e "require('better-sqlite3')(':memory:').close()" || { say "better-sqlite3 failed to load"; exit 1; }
  echo "$want" > "$stamp"
fi
