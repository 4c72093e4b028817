#!/usr/bin/env bash
# Installs, builds and runs every test (CTest + GoogleTest). Idempotent and incremental.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${KILN_BUILD_DIR:-$ROOT/build}"
bash "$ROOT/scripts/build.sh"
cd "$BUILD"
ctest --output-on-failure -j "${KILN_JOBS:-$(nproc)}" --timeout 600 "$@"
