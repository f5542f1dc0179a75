#!/usr/bin/env bash
# Sets everything up and runs the whole test suite (the README's second quick-start command).
# Usage: scripts/test.sh [BUILD_DIR] [cmake args...]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$here/build}"
shift || true
bash "$here/scripts/build.sh" "$dir" "$@"
ctest --test-dir "$dir" --output-on-failure -j"$(nproc)"
