#!/usr/bin/env bash
# Runs the backend ABI's threading-contract test (tests/datasets/threading_test.cpp: DataLoader
# workers and the training thread launching ops at once, plus plain threads allocating beside
# them) under ThreadSanitizer, on the default device (blas with tbb), on tbb and on ref.
# Builds core, the host backends and datasets with -fsanitize=thread in build-tsan/ (or
# $KILN_TSAN_BUILD_DIR). Exits non-zero on any race report. Part of scripts/test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${KILN_TSAN_BUILD_DIR:-$ROOT/build-tsan}"
JOBS="${KILN_JOBS:-$(nproc)}"
if [[ ! -f "$BUILD/build.ninja" ]]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
    -DKILN_SANITIZE=thread -DKILN_BACKEND_CUDA=OFF -DKILN_BUILD_VISION=OFF -DKILN_BUILD_TEXT=OFF \
    -DKILN_BUILD_SDK=OFF -DKILN_BUILD_BENCH=OFF >/dev/null
fi
cmake --build "$BUILD" -j "$JOBS" --target datasets_threading_test kiln_backend_ref kiln_backend_tbb kiln_backend_blas
# oneTBB and OpenBLAS are not instrumented: their own thread hand-offs are invisible to TSan, so
# reports whose stack lies inside them are suppressed (tests/datasets/tsan.supp says which).
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$ROOT/tests/datasets/tsan.supp ${TSAN_OPTIONS:-}"
for backend in "" tbb ref; do
  echo "== threading contract under ThreadSanitizer, KILN_BACKEND=${backend:-default}"
  if [[ -n "$backend" ]]; then export KILN_BACKEND="$backend"; else unset KILN_BACKEND; fi
  KILN_LOG_LEVEL=error "$BUILD/bin/datasets_threading_test"
done
echo "tsan-check: no data race reported"
