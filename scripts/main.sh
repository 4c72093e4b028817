#!/usr/bin/env bash
# The main job: install, build, then train LeNet-5 on Fashion-MNIST (Debian's dataset-fashion-mnist)
# with `kiln train`, printing the test accuracy and where the model and plots went.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${KILN_BUILD_DIR:-$ROOT/build}"
KILN_TARGETS="${KILN_TARGETS:-kiln_cli kiln_backends}" bash "$ROOT/scripts/build.sh"
mkdir -p "$ROOT/runs"
if "$BUILD/bin/kiln" help train >/dev/null 2>&1; then
  exec "$BUILD/bin/kiln" train --model lenet --dataset fashion-mnist --out "$ROOT/runs/lenet.kiln" \
    --json "$ROOT/runs/lenet.json" "$@"
else
  echo "[kiln] 'kiln train' is not built in this tree; running the tensor demo on every backend instead"
  exec "$BUILD/bin/kiln" demo "$@"
fi
