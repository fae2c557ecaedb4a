#!/usr/bin/env bash
# Installs the system packages the compat suite needs, only when missing
# (idempotent): kcat, python3-kafka, python3-confluent-kafka (Debian 12),
# and the pinned kafkajs in tests/compat/node (npm ci).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APT_PKGS=(kcat python3-kafka python3-confluent-kafka)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

missing=()
for p in "${APT_PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: missing ${missing[*]} and no apt-get on this machine" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# Optional: kafka-python's snappy/lz4/zstd modules for the codec cases
# (tests/compat/codecs_test.py marks a codec XFAIL when its module is missing).
OPT_PKGS=(python3-snappy python3-lz4 python3-zstandard)
opt_missing=()
for p in "${OPT_PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    opt_missing+=("$p")
  fi
done
if [ "${#opt_missing[@]}" -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: installing ${opt_missing[*]} (optional)"
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -y -q --no-install-recommends "${opt_missing[@]}" >/dev/null 2>&1 &&
     ! { $SUDO apt-get update -q >/dev/null 2>&1 &&
         $SUDO apt-get install -y -q --no-install-recommends "${opt_missing[@]}" >/dev/null 2>&1; }; then
    echo "install-deps: could not install ${opt_missing[*]}; those codec cases will XFAIL" >&2
  fi
fi

# kafkajs, pinned by tests/compat/node/package-lock.json.
if [ ! -d "$ROOT/tests/compat/node/node_modules/kafkajs" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "install-deps: npm not found (needed for the kafkajs compat tests)" >&2
    exit 1
  fi
  echo "install-deps: npm ci in tests/compat/node"
  (cd "$ROOT/tests/compat/node" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
