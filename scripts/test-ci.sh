#!/usr/bin/env bash
# Everything a fresh machine needs to run every test: npm packages, the Debian test peers
# (nmap, mosquitto, dropbear, busybox, libcoap, lighttpd, redis, testssl.sh, hydra), a build, lint, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== npm packages"
# `npm install`, not `npm ci`: npm 11 leaves other platforms' optional packages of node-aead-crypto
# (pulled in by node-dtls-client) out of the lockfile and `npm ci` then refuses its own lockfile.
# `npm install` installs exactly the locked versions and leaves package-lock.json unchanged.
npm install --no-audit --no-fund
if git rev-parse --git-dir >/dev/null 2>&1 && ! git diff --quiet -- package-lock.json; then
  echo "package-lock.json changed during install: it is out of date with package.json; run npm install and commit it" >&2
  exit 1
fi

echo "== Debian test peers"
bash scripts/install-peers.sh

echo "== build, typecheck, lint"
npm run build
npm run typecheck
npm run lint

echo "== tests"
IOT_HARNESS_BUILT=1 npx vitest run
