# shellcheck shell=bash
# Sourced by scripts/compat.sh: the newest PyPI releases of kafka-python and
# confluent-kafka (plus the kafka-python codec modules) in a cached virtualenv.
#
#   pypi_python   prints the venv's python, creating/upgrading the venv first
#
# The venv lives in $COMPAT_VENV (default ~/.cache/chronik/venv-compat) and is
# reused; pip upgrades it at most once per $COMPAT_PYPI_MAX_AGE seconds
# (default 86400; 0 = every run) so reruns stay fast. Needs python3 with the
# venv module (Debian: python3-venv, installed via apt if missing).

COMPAT_VENV="${COMPAT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/chronik/venv-compat}"
COMPAT_PYPI_PKGS="kafka-python confluent-kafka python-snappy lz4 zstandard"

# _pypi_base_python: a python3 whose venv + ensurepip work (Debian's first:
# pyenv's python3 on PATH may lack them or be a different version).
_pypi_base_python() {
  local py
  for py in ${PYTHON_FOR_VENV:-} /usr/bin/python3 python3; do
    command -v "$py" >/dev/null 2>&1 || continue
    if "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
      command -v "$py"
      return 0
    fi
  done
  return 1
}

pypi_python() {
  local py="$COMPAT_VENV/bin/python" stamp="$COMPAT_VENV/.chronik-upgraded" base
  local max_age="${COMPAT_PYPI_MAX_AGE:-86400}"
  if [ ! -x "$py" ] || ! "$py" -c 'import pip' >/dev/null 2>&1; then
    if ! base="$(_pypi_base_python)"; then
      if command -v apt-get >/dev/null 2>&1; then
        echo "pypi: installing python3-venv" >&2
        local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
          python3-venv >/dev/null 2>&1 || { $sudo apt-get update -q >/dev/null 2>&1 &&
          DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
          python3-venv >/dev/null 2>&1; }
      fi
      base="$(_pypi_base_python)" || { echo "pypi: no python3 with a working venv module" >&2; return 1; }
    fi
    echo "pypi: creating $COMPAT_VENV with $base" >&2
    rm -rf "$COMPAT_VENV"
    mkdir -p "$(dirname "$COMPAT_VENV")"
    "$base" -m venv "$COMPAT_VENV" >&2 || { echo "pypi: python3 -m venv failed" >&2; return 1; }
    rm -f "$stamp"
  fi
  local now age
  now=$(date +%s)
  age=$(( now - $(cat "$stamp" 2>/dev/null || echo 0) ))
  if [ "$age" -ge "$max_age" ] || ! "$py" -c 'import kafka, confluent_kafka' >/dev/null 2>&1; then
    echo "pypi: pip install --upgrade $COMPAT_PYPI_PKGS" >&2
    # shellcheck disable=SC2086
    if "$py" -m pip install -q --disable-pip-version-check --upgrade $COMPAT_PYPI_PKGS >&2; then
      echo "$now" >"$stamp"
    elif ! "$py" -c 'import kafka, confluent_kafka' >/dev/null 2>&1; then
      echo "pypi: pip install failed" >&2
      return 1
    else
      echo "pypi: pip upgrade failed; using the versions already in $COMPAT_VENV" >&2
    fi
  fi
  "$py" -c 'import kafka, confluent_kafka as ck; print(f"pypi: kafka-python {kafka.__version__}, confluent-kafka {ck.__version__} (librdkafka {ck.libversion()[0]}) in '"$COMPAT_VENV"'")' >&2
  echo "$py"
}
