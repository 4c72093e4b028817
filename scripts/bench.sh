#!/usr/bin/env bash
# Side-by-side benchmark: Kiln's `kiln bench` and PyTorch's shared/bench/torch_fmnist.py on the same
# workload, in one run, 2 threads each. Installs Debian's python3-torch if needed (benchmarks only).
# Usage: scripts/bench.sh [model] [epochs] [backends...]   e.g. scripts/bench.sh lenet 1 tbb blas
# KILN_BENCH_ROUNDS=N (default 1): N rounds of PyTorch then each backend, and PyTorch once more.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${KILN_BUILD_DIR:-$ROOT/build}"
MODEL="${1:-lenet}"; EPOCHS="${2:-1}"; shift $(( $# > 2 ? 2 : $# )) || true
BACKENDS=("$@"); ((${#BACKENDS[@]})) || BACKENDS=(tbb blas)
KILN_TARGETS="kiln_cli kiln_backends" bash "$ROOT/scripts/build.sh"
PY=/usr/bin/python3
if ! $PY -c "import torch" 2>/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-torch python3-numpy
fi
SHARED="${KILN_SHARED_DIR:-$ROOT/../shared}"
export KILN_NUM_THREADS=2 OMP_NUM_THREADS=2
echo "== $(date -u) $(nproc) cores, model=$MODEL epochs=$EPOCHS, load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((round = 0; round < ${KILN_BENCH_ROUNDS:-1}; ++round)); do
  $PY "$SHARED/bench/torch_fmnist.py" "$MODEL" "$EPOCHS" 64
  for b in "${BACKENDS[@]}"; do
    "$BUILD/bin/kiln" bench --model "$MODEL" --epochs "$EPOCHS" --backend "$b"
  done
done
$PY "$SHARED/bench/torch_fmnist.py" "$MODEL" "$EPOCHS" 64
