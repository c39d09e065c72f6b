#!/usr/bin/env bash
# Install everything the dashboard, the command line and the tests need:
# Debian packages (when missing), a virtual environment at .venv with the pinned
# Python packages, and this project in editable mode. Safe to run again: each
# step is skipped when it is already done.
set -euo pipefail

cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(libb64-0d chromium poppler-utils)
PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.requirements.sha256

missing_system_packages() {
  local package
  for package in "${SYSTEM_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed"; then
      echo "$package"
    fi
  done
}

install_system_packages() {
  local missing
  missing=$(missing_system_packages | tr '\n' ' ')
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: $missing" >&2
    echo "setup: install them as root, then run this again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y $missing" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: $missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
}

check_python() {
  if ! "$PYTHON" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 13))'; then
    echo "setup: $PYTHON is $("$PYTHON" --version 2>&1); Python 3.10 to 3.13 is needed" \
      "(nvidia-pytriton 0.7.0 ships Python-backend stubs for those versions)." >&2
    echo "setup: set PYTHON=/path/to/python3.11 and run this again." >&2
    exit 1
  fi
}

install_python_packages() {
  local wanted
  wanted=$(sha256sum requirements.txt constraints.txt pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$wanted" ]; then
    return 0
  fi
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  echo "setup: installing Python packages into $VENV (first run: a few minutes)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r requirements.txt -c constraints.txt
  "$VENV/bin/python" -m pip install -q --no-deps -e .
  echo "$wanted" >"$STAMP"
}

install_system_packages
check_python
install_python_packages
"$VENV/bin/python" -m analyzer_core --help >/dev/null
echo "setup: ready ($VENV)"
