#!/usr/bin/env bash
# Runs the backend ABI's threading-contract test (tests/datasets/threading_test.cpp: producer
# threads computing examples with Kiln ops while the training thread trains on the same device)
# under ThreadSanitizer on the ref backend. oneTBB and OpenBLAS are not instrumented: their
# hand-offs between threads are invisible to TSan and show up as races, so the DataLoader's
# oneTBB workers and the tbb/blas backends are exercised by the same test file in the normal
# build only (docs/design-notes.md, "Threading contract").
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
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
echo "== threading contract under ThreadSanitizer, KILN_BACKEND=ref"
KILN_BACKEND=ref KILN_LOG_LEVEL=error "$BUILD/bin/datasets_threading_test" \
  --gtest_filter=ThreadingContract.ProducerThreadsLaunchOpsWhileTheTrainingThreadTrains
echo "tsan-check: no data race reported"
