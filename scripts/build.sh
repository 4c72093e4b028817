#!/usr/bin/env bash
# Installs what Kiln needs (Debian packages, skipping what is present), configures and builds.
# Incremental: reuses build/ (or $KILN_BUILD_DIR); extra CMake options via $KILN_CMAKE_ARGS.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${KILN_BUILD_DIR:-$ROOT/build}"
bash "$ROOT/scripts/install-deps.sh"
JOBS="${KILN_JOBS:-$(nproc)}"
if [[ ! -f "$BUILD/build.ninja" ]]; then
  # shellcheck disable=SC2086
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release ${KILN_CMAKE_ARGS:-}
elif [[ -n "${KILN_CMAKE_ARGS:-}" ]]; then
  # shellcheck disable=SC2086
  cmake "$BUILD" ${KILN_CMAKE_ARGS}
fi
# KILN_TARGETS: build only these targets (default: everything)
if [[ -n "${KILN_TARGETS:-}" ]]; then
  # shellcheck disable=SC2086
  cmake --build "$BUILD" -j "$JOBS" --target ${KILN_TARGETS}
else
  cmake --build "$BUILD" -j "$JOBS"
fi
