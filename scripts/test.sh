#!/usr/bin/env bash
# Installs, builds and runs every test (CTest + GoogleTest). Idempotent and incremental.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${KILN_BUILD_DIR:-$ROOT/build}"
bash "$ROOT/scripts/build.sh"
# The backend ABI's threading contract under ThreadSanitizer (first, so ctest's summary closes the output; its own build in build-tsan/;
# KILN_SKIP_TSAN=1 skips it).
if [[ "${KILN_SKIP_TSAN:-0}" != 1 ]]; then
  bash "$ROOT/scripts/tsan-check.sh"
fi
cd "$BUILD"
ctest --output-on-failure -j "${KILN_JOBS:-$(nproc)}" --timeout 600 "$@"
