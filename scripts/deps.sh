#!/usr/bin/env bash
# Installs the Debian packages libdeepctr needs, only those missing (idempotent, non-interactive).
# Usage: scripts/deps.sh [extra-package ...]
set -euo pipefail
# python3-*: the Python package (python/) and its pytest suite, run by ctest as test_python
packages=(gcc make cmake pkg-config libopenblas-dev libcmocka-dev zlib1g-dev python3 python3-numpy python3-pandas python3-pytest python3-venv python3-pip "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
