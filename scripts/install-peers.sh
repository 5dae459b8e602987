#!/usr/bin/env bash
# Installs the Debian packages that the real-peer tests (test/peers/) start on loopback.
# Idempotent: when every binary is already present it installs nothing and needs no root.
#
# Usage: bash scripts/install-peers.sh
set -euo pipefail

# binary (or file) -> package that provides it. A file path is checked with -e, a name on PATH
# (plus the sbin directories, which a non-root PATH may lack).
checks=(
  "nmap:nmap"
  "mosquitto:mosquitto"
  "mosquitto_passwd:mosquitto"
  "mosquitto_sub:mosquitto-clients"
  "mosquitto_pub:mosquitto-clients"
  "dropbear:dropbear-bin"
  "dropbearkey:dropbear-bin"
  "busybox:busybox-static"
  "coap-server-notls:libcoap3-bin"
  "coap-server-openssl:libcoap3-bin"
  "coap-client-notls:libcoap3-bin"
  "coap-client-openssl:libcoap3-bin"
  "lighttpd:lighttpd"
  # lighttpd only Recommends its TLS module; --no-install-recommends would leave HTTPS tests without it.
  "/usr/lib/lighttpd/mod_openssl.so:lighttpd-mod-openssl"
  "redis-server:redis-server"
  "testssl:testssl.sh"
  "hydra:hydra"
  "openssl:openssl"
  # pyftpdlib runs under Debian's /usr/bin/python3, which the package pulls in (test/peers/ftpd.ts).
  "/usr/lib/python3/dist-packages/pyftpdlib/__init__.py:python3-pyftpdlib"
  # The HTML report test (test/reports/html.test.ts) renders report.html in Debian's headless Chromium,
  # driven by playwright-core: `npx playwright install` downloads its own browser, which fails offline.
  "chromium:chromium"
)

# Daemons whose Debian packages start a system service listening on well-known ports.
daemons=(mosquitto lighttpd redis-server)

has() {
  local name=$1
  if [[ $name == /* ]]; then
    [[ -e $name ]]
  else
    PATH="$PATH:/usr/sbin:/sbin" command -v "$name" >/dev/null 2>&1
  fi
}

missing=()
add_missing() {
  local pkg=$1 p
  for p in "${missing[@]}"; do [[ $p == "$pkg" ]] && return 0; done
  missing+=("$pkg")
}

for entry in "${checks[@]}"; do
  bin=${entry%%:*}
  pkg=${entry#*:}
  if ! has "$bin"; then
    echo "install-peers: missing $bin (package $pkg)"
    add_missing "$pkg"
  fi
done

# The telnet tests need busybox's telnetd applet; a busybox build without it does not count.
if has busybox && ! busybox --list 2>/dev/null | grep -qx telnetd; then
  echo "install-peers: busybox has no telnetd applet (package busybox-static)"
  add_missing busybox-static
fi

if ((${#missing[@]} == 0)); then
  echo "install-peers: all test peers present, nothing to install"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-peers: apt-get not found: install these packages with your system's package manager: ${missing[*]}" >&2
  exit 1
fi

sudo_cmd=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "install-peers: not root and sudo is not available: run as root to install: ${missing[*]}" >&2
    exit 1
  fi
fi

# Remember which daemons already ran, so that we report only the ones the install started.
running_before=()
for d in "${daemons[@]}"; do
  if pgrep -x "$d" >/dev/null 2>&1; then running_before+=("$d"); fi
done

# Debian's maintainer scripts start mosquitto, lighttpd and redis-server on their well-known ports
# unless policy-rc.d says no (exit 101). Add one for the duration of the install if there is none;
# an existing one (Docker images ship one) is left as it is.
policy=/usr/sbin/policy-rc.d
added_policy=0
remove_policy() {
  if ((added_policy)); then
    "${sudo_cmd[@]}" rm -f "$policy"
  fi
}
trap remove_policy EXIT
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# temporary, from iot-harness scripts/install-peers.sh\nexit 101\n' \
    | "${sudo_cmd[@]}" tee "$policy" >/dev/null
  "${sudo_cmd[@]}" chmod 755 "$policy"
  added_policy=1
fi

echo "install-peers: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"

still_missing=()
for entry in "${checks[@]}"; do
  bin=${entry%%:*}
  if ! has "$bin"; then still_missing+=("$bin"); fi
done
if ((${#still_missing[@]} > 0)); then
  echo "install-peers: still missing after install: ${still_missing[*]}" >&2
  exit 1
fi

for d in "${daemons[@]}"; do
  if pgrep -x "$d" >/dev/null 2>&1 && [[ " ${running_before[*]} " != *" $d "* ]]; then
    echo "install-peers: note: the install started a system $d service; the tests do not need it" \
      "(stop it with: ${sudo_cmd[*]} service $d stop)"
  fi
done

echo "install-peers: done"
