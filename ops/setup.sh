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
  [/usr/sbin/nats-server]=nats-server
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

# npm dependencies: reinstall only when package.json or the lock changed.
stamp=node_modules/.orva-setup-stamp
want=$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing npm dependencies (better-sqlite3 compiles from source: about a minute)"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
  node -e "require('better-sqlite3')(':memory:').close()" || { say "better-sqlite3 failed to load"; exit 1; }
  echo "$want" > "$stamp"
fi
