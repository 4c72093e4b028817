#!/usr/bin/env bash
# Installs every Debian package Kiln's build, tests and main job need.
# Idempotent: packages already present are skipped; apt-get runs only when something is missing.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build pkg-config git
  libboost-dev libboost-program-options-dev libboost-filesystem-dev
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev zlib1g-dev libpng-dev libopencv-dev
  libtbb-dev libopenblas-dev
  dataset-fashion-mnist
  libicu-dev
  fortunes fortunes-de fortunes-es fortunes-it fortunes-cs fortunes-ru fortunes-bg fortunes-zh
  doxygen
)
# Optional module dependencies, selectable by the caller (KILN_EXTRA_PKGS="libopencv-dev libicu-dev").
if [[ -n "${KILN_EXTRA_PKGS:-}" ]]; then read -r -a extra <<<"$KILN_EXTRA_PKGS"; PKGS+=("${extra[@]}"); fi
missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then missing+=("$p"); fi
done
if ((${#missing[@]})); then
  echo "[kiln] installing: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "[kiln] all packages present"
fi
