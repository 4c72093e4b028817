#!/usr/bin/env bash
# scripts/gpu-carry.sh: packs the few build dependencies a bare GPU machine lacks into one archive,
# .devroot/devroot.tar.xz (ignored by git), for scripts/gpu-check to unpack there.
#
# A GPU machine may have only the CUDA toolkit, CMake, ninja and PyTorch, and no package registry.
# Building core, the CUDA plugin, its tests and `kiln bench` also needs Boost's headers (and
# Program_options for the command line), nlohmann-json, GoogleTest, oneTBB (datasets/) and zlib's
# header. This takes exactly those Debian packages' files from this machine (installing them first
# with apt-get if missing), keeping their /usr layout, so their CMake package files find them
# wherever the archive is unpacked. The shared libraries in it need nothing newer than Debian 12's
# glibc and libstdc++, so they load on newer systems too.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT_DIR=$ROOT/.devroot
PACKAGES=(libboost1.74-dev libboost-program-options1.74-dev libboost-program-options1.74.0 nlohmann-json3-dev
          libgtest-dev libtbb-dev libtbb12 libtbbmalloc2 libtbbbind-2-5 libhwloc15 zlib1g-dev zlib1g)
missing=()
for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
list=$(mktemp)
trap 'rm -f "$list"' EXIT
for p in "${PACKAGES[@]}"; do
  # files and symbolic links, not folders; no documentation
  dpkg -L "$p" | grep -v '^/usr/share/doc' | while read -r f; do
    if [[ -f "$f" || -L "$f" ]] && [[ ! -d "$f" ]]; then echo "${f#/}"; fi
  done
done | sort -u >"$list"
mkdir -p "$OUT_DIR"
tar -C / -cJf "$OUT_DIR/devroot.tar.xz.tmp" -T "$list"
mv "$OUT_DIR/devroot.tar.xz.tmp" "$OUT_DIR/devroot.tar.xz"
# Debian's Fashion-MNIST too, when installed (30 MB), for gpu-check's 10-epoch training runs.
if [[ -d /usr/share/datasets/fashion-mnist ]]; then
  mkdir -p "$OUT_DIR/fashion-mnist"
  cp -u /usr/share/datasets/fashion-mnist/*.gz "$OUT_DIR/fashion-mnist/"
fi
# CUPTI's headers from this machine's toolkit, for gpu-check's kernel trace (bench/kernel_trace),
# in case that machine's toolkit lacks them (it has the library).
for d in /usr/local/cuda/include /usr/local/cuda/extras/CUPTI/include; do
  if compgen -G "$d/cupti*.h" >/dev/null; then
    mkdir -p "$OUT_DIR/cupti-include" && cp -u "$d"/cupti*.h "$d"/generated_*.h "$OUT_DIR/cupti-include/" 2>/dev/null
    break
  fi
done
echo "$(wc -l <"$list") files from ${#PACKAGES[@]} packages -> $OUT_DIR/devroot.tar.xz ($(du -h "$OUT_DIR/devroot.tar.xz" | cut -f1))"
