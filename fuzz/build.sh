#!/bin/sh
# Builds the .kiln reader fuzz target standalone with clang++ (libFuzzer + ASan + UBSan):
# core's sources, the reference backend plugin, and fuzz/kiln_load_fuzz.cpp.
#   fuzz/build.sh [OUT_DIR]            (default: build-fuzz; JOBS=2 by default)
#   PLUGIN_DIR=build/lib/kiln/backends fuzz/build.sh   reuses backend plugins built by CMake
#                                      instead of building the reference backend here
# Then:
#   KILN_FUZZ_WRITE_SEEDS=OUT/seeds OUT/kiln_load_fuzz          # write the seed corpus
#   OUT/kiln_load_fuzz -max_total_time=300 -max_len=65536 -dict=fuzz/kiln.dict OUT/corpus OUT/seeds
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mkdir -p "${1:-$ROOT/build-fuzz}" && cd "${1:-$ROOT/build-fuzz}" && pwd)
JOBS=${JOBS:-2}
CXX=${CXX:-clang++}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
FLAGS="-std=c++20 -O1 -g -Wall -Wextra -Wno-missing-field-initializers $SAN"
CORE_FOLDERS="runtime module nn optim serialize train"
INC="-I$ROOT/core/runtime/src -I$ROOT/core/module/src -I$ROOT/plugins/include"
for f in $CORE_FOLDERS; do INC="$INC -I$ROOT/core/$f/include"; done
mkdir -p "$OUT/obj/core" "$OUT/obj/ref" "$OUT/plugins" "$OUT/seeds" "$OUT/corpus"

# core (without the conformance suite), instrumented for coverage
for f in $CORE_FOLDERS; do
  find "$ROOT/core/$f/src" -name '*.cpp'
done | xargs -P "$JOBS" -I{} sh -c '
  src={}; rel=${src#'"$ROOT"'/core/}; obj="'"$OUT"'/obj/core/$(echo "${rel%.cpp}" | tr / _).o"
  [ "$obj" -nt "$src" ] && exit 0
  echo "  CXX $src"
  '"$CXX $FLAGS -fsanitize=fuzzer-no-link $INC"' -c "$src" -o "$obj"'

PLUGIN_DIR=${PLUGIN_DIR:-}
if [ -z "$PLUGIN_DIR" ]; then
  # the reference backend plugin (sanitized, not coverage-instrumented)
  for src in "$ROOT"/backends/ref/*.cpp; do
    echo "$src"
  done | xargs -P "$JOBS" -I{} sh -c '
    src={}; obj="'"$OUT"'/obj/ref/$(basename "$src" .cpp).o"
    [ "$obj" -nt "$src" ] && exit 0
    echo "  CXX $src"
    '"$CXX $FLAGS -fPIC $INC"' -c "$src" -o "$obj"'
  $CXX $SAN -shared -o "$OUT/plugins/kiln_backend_ref.so" "$OUT"/obj/ref/*.o
  PLUGIN_DIR="$OUT/plugins"
fi

echo "  LINK $OUT/kiln_load_fuzz"
$CXX $FLAGS -fsanitize=fuzzer $INC -DKILN_FUZZ_PLUGIN_DIR="\"$(cd "$PLUGIN_DIR" && pwd)\"" \
  "$ROOT/fuzz/kiln_load_fuzz.cpp" "$OUT"/obj/core/*.o \
  -lboost_filesystem -lz -ldl -lpthread -o "$OUT/kiln_load_fuzz"
echo "built $OUT/kiln_load_fuzz"
