#!/usr/bin/env bash
# The installed SDK, end to end (CTest: sdk_install_test):
#   1. `cmake --install` the build tree into a temporary prefix, then MOVE the prefix;
#   2. check the layout (headers, versioned libraries with SONAME, plugins, CMake package,
#      pkg-config files, RPATH of the commands) and that `kiln plugins` loads the backends from
#      the moved place;
#   3. configure, build (-j2) and run every example from the INSTALLED tree only: the C++ app
#      trains and saves an MLP that uses the example layer plugin, the C app loads it and checks
#      its outputs against the C++ app's, kiln-conformance passes the example backend;
#   4. the layer-plugin rules: a plugin built for another major version is refused naming both
#      versions, a second plugin registering a taken name is refused and the process keeps
#      running, a model whose layer no loaded plugin provides names the plugin to install.
# usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
HERE="$SRC/tests/sdk/install"
JOBS=${KILN_TEST_JOBS:-2}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kiln-sdk-install.XXXXXX")
trap '[[ -n "${KILN_KEEP_TEST_DIR:-}" ]] || rm -rf "$WORK"' EXIT
export KILN_LOG_LEVEL=${KILN_LOG_LEVEL:-error}
unset KILN_PLUGIN_PATH KILN_BACKEND

step() { echo "== $*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# expect_in FILE TEXT...: every TEXT occurs in FILE.
expect_in() {
  local file=$1
  shift
  for text in "$@"; do
    grep -qF -- "$text" "$file" || { cat "$file" >&2; fail "'$text' not in $(basename "$file")"; }
  done
}
soname_of() { readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'; }
runpath_of() { readelf -d "$1" | sed -n 's/.*(R.*PATH).*\[\(.*\)\]/\1/p'; }

step "install into a temporary prefix and move it"
cmake --install "$BUILD" --prefix "$WORK/stage" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; fail "cmake --install"; }
mv "$WORK/stage" "$WORK/moved"
P="$WORK/moved"
LIB="$P/lib"
[[ -d "$LIB" ]] || LIB=$(dirname "$(find "$P" -name 'libkiln.so.0' | head -1)")

step "layout"
for f in include/kiln/kiln.hpp include/kiln/kiln_config.hpp include/kiln/kiln_modules.hpp include/kiln/kiln_c.h \
         include/kiln/tensor.hpp include/kiln/nn/module.hpp include/kiln/layer_plugin.hpp \
         include/kiln/plugin/kiln_backend.h include/kiln/plugin/host_backend.hpp include/kiln/plugin/ops.def \
         bin/kiln bin/kiln-conformance; do
  [[ -e "$P/$f" ]] || fail "$f is not installed"
done
for f in cmake/Kiln/KilnConfig.cmake cmake/Kiln/KilnConfigVersion.cmake cmake/Kiln/KilnTargets.cmake \
         cmake/Kiln/KilnPluginHelpers.cmake pkgconfig/kiln.pc pkgconfig/kiln-core.pc pkgconfig/kiln-nn.pc \
         pkgconfig/kiln-optim.pc pkgconfig/kiln-serialize.pc pkgconfig/kiln-train.pc pkgconfig/kiln-c.pc kiln/backends/kiln_backend_ref.so; do
  [[ -e "$LIB/$f" ]] || fail "lib/$f is not installed"
done
for lib in kiln kiln_nn kiln_optim kiln_serialize kiln_train kiln_conformance_suite kiln_c kiln_datasets kiln_vision; do
  if [[ $lib == kiln_datasets || $lib == kiln_vision ]] && [[ ! -e "$LIB/lib$lib.so.0" ]]; then continue; fi
  [[ -f "$LIB/lib$lib.so.0.1.0" && -L "$LIB/lib$lib.so.0" && -L "$LIB/lib$lib.so" ]] ||
    fail "lib$lib.so -> lib$lib.so.0 -> lib$lib.so.0.1.0 is not installed"
  [[ $(soname_of "$LIB/lib$lib.so.0.1.0") == "lib$lib.so.0" ]] || fail "lib$lib.so.0.1.0 has SONAME '$(soname_of "$LIB/lib$lib.so.0.1.0")'"
done
[[ -e "$LIB/libkiln_vision.so.0" ]] && { [[ -e "$LIB/pkgconfig/kiln-vision.pc" ]] || fail "kiln-vision.pc is not installed"; }
[[ $(runpath_of "$P/bin/kiln") == '$ORIGIN/../lib' ]] || fail "bin/kiln has RPATH '$(runpath_of "$P/bin/kiln")'"
[[ $(runpath_of "$P/bin/kiln-conformance") == '$ORIGIN/../lib' ]] || fail "bin/kiln-conformance RPATH"
if grep -rqF "$BUILD" "$LIB"/cmake/Kiln/*.cmake "$LIB"/pkgconfig/*.pc; then fail "the CMake package or a .pc file names the build tree"; fi
for f in "$P"/bin/* "$LIB"/lib*.so.0.1.0; do
  case "$(runpath_of "$f")" in *"$BUILD"*) fail "$f has an RPATH into the build tree" ;; esac
done
expect_in "$P/include/kiln/kiln_config.hpp" "#define KILN_HAS_C_API 1"

step "kiln plugins, run from the moved prefix, loads the backends beside libkiln"
"$P/bin/kiln" plugins >"$WORK/plugins.txt" 2>&1 || { cat "$WORK/plugins.txt"; fail "kiln plugins"; }
expect_in "$WORK/plugins.txt" "$LIB/kiln/backends/kiln_backend_ref.so"
if grep -q "failed to load" "$WORK/plugins.txt"; then cat "$WORK/plugins.txt"; fail "a plugin failed to load"; fi

step "configure and build the examples against the installed SDK only"
# CMAKE_FIND_USE_PACKAGE_REGISTRY=OFF and a prefix path naming only the moved tree: nothing of the
# build tree can be found.
# No optimization: the examples are tiny and compile time is what this test spends.
GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
cmake -S "$SRC/sdk/examples" -B "$WORK/examples" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE= -DCMAKE_PREFIX_PATH="$P" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_C_FLAGS="-std=c99 -Wall -Wextra -pedantic -Werror" \
  -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror -Wno-missing-field-initializers" >"$WORK/configure.log" 2>&1 ||
  { cat "$WORK/configure.log"; fail "configuring the examples"; }
expect_in "$WORK/examples/CMakeCache.txt" "Kiln_DIR:PATH=$LIB/cmake/Kiln"
cmake --build "$WORK/examples" -j "$JOBS" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; fail "building the examples"; }
EX="$WORK/examples"
if grep -rqF "$BUILD" "$EX/CMakeCache.txt"; then fail "the examples' build names Kiln's build tree"; fi

step "kiln-conformance passes the example backend"
"$P/bin/kiln-conformance" "$EX/mini_backend/kiln_backend_mini.so" >"$WORK/conformance.txt" 2>&1 ||
  { cat "$WORK/conformance.txt"; fail "kiln-conformance on the example backend"; }
cat "$WORK/conformance.txt"
expect_in "$WORK/conformance.txt" "backend 'mini'" " 0 failed"
for op in add mul relu fill copy; do
  grep -Eq "^$op +float32 .*PASS" "$WORK/conformance.txt" || fail "kiln-conformance has no passing float32 line for $op"
done
"$P/bin/kiln-conformance" "$EX/mini_backend/kiln_backend_mini.so" --json --ops add,relu >"$WORK/conformance.json" ||
  fail "kiln-conformance --json"
expect_in "$WORK/conformance.json" '"summary"' '"failed": 0'
set +e
"$P/bin/kiln-conformance" "$WORK/no-such-plugin.so" >/dev/null 2>&1
rc=$?
set -e
[[ $rc == 2 ]] || fail "kiln-conformance on a missing file exited $rc, expected 2"

step "C++ app: train, save (with the Swish layer from the example layer plugin)"
mkdir -p "$WORK/layers"
cp "$EX/swish_layer/swish_layer.so" "$WORK/layers/"
KILN_PLUGIN_PATH="$WORK/layers" "$EX/train_mlp/train_mlp" "$WORK/mlp.kiln" "$WORK/probe.txt" >"$WORK/train.txt" 2>&1 ||
  { cat "$WORK/train.txt"; fail "train_mlp"; }
cat "$WORK/train.txt"
expect_in "$WORK/train.txt" "activation: Swish from layer plugin swish_layer.so" "outputs match" "test accuracy"

step "C app: load the model through the C API and check its outputs"
KILN_PLUGIN_PATH="$WORK/layers" "$EX/infer_c/infer" "$WORK/mlp.kiln" "$WORK/probe.txt" >"$WORK/infer.txt" 2>&1 ||
  { cat "$WORK/infer.txt"; fail "infer"; }
cat "$WORK/infer.txt"
expect_in "$WORK/infer.txt" "Swish" "input shape [-1, 2]" "output shape for a batch of 4 [4, 3]" "6/6 same class" "OK"

step "C++ inference app: links the core, the layers and serialization only, and gives the same outputs"
# Every library the app loads, directly or through another (ldd follows the RUNPATHs).
loaded=$(ldd "$EX/infer_cpp/infer_cpp")
for lib in libkiln.so.0 libkiln_nn.so.0 libkiln_serialize.so.0; do
  grep -qF "$lib => $LIB/" <<<"$loaded" || fail "infer_cpp does not load $lib from the prefix: $loaded"
done
for lib in libkiln_optim libkiln_train; do
  if grep -qF "$lib" <<<"$loaded"; then fail "infer_cpp loads $lib, a training library: $loaded"; fi
done
KILN_PLUGIN_PATH="$WORK/layers" "$EX/infer_cpp/infer_cpp" "$WORK/mlp.kiln" "$WORK/probe.txt" >"$WORK/infer_cpp.txt" 2>&1 ||
  { cat "$WORK/infer_cpp.txt"; fail "infer_cpp"; }
cat "$WORK/infer_cpp.txt"
expect_in "$WORK/infer_cpp.txt" "Swish" "6/6 same class" "OK"

step "pkg-config: one file per core target, and kiln.pc for everything"
export PKG_CONFIG_PATH="$LIB/pkgconfig"
for pc in kiln-core kiln-nn kiln-optim kiln-serialize kiln-train; do
  pkg-config --exists "$pc" || fail "pkg-config does not find $pc"
done
[[ $(pkg-config --libs-only-l kiln-serialize) == *-lkiln_serialize*-lkiln_nn*-lkiln* ]] ||
  fail "pkg-config --libs kiln-serialize gives '$(pkg-config --libs-only-l kiln-serialize)'"
if pkg-config --libs kiln-serialize | grep -q kiln_optim; then fail "kiln-serialize.pc pulls in the optimizers"; fi

step "C app built with pkg-config and a C99 compiler"
export PKG_CONFIG_PATH="$LIB/pkgconfig"
${CC:-cc} -std=c99 -Wall -Wextra -pedantic -Werror "$SRC/sdk/examples/infer_c/infer.c" $(pkg-config --cflags --libs kiln-c) \
  -Wl,-rpath,"$LIB" -lm -o "$WORK/infer_pc" || fail "compiling infer.c with pkg-config kiln-c"
KILN_PLUGIN_PATH="$WORK/layers" "$WORK/infer_pc" "$WORK/mlp.kiln" "$WORK/probe.txt" >/dev/null || fail "infer built with pkg-config"
[[ $(pkg-config --modversion kiln) == 0.1.0 ]] || fail "pkg-config --modversion kiln"
inc=$(pkg-config --variable=includedir kiln)
[[ -d "$inc" && $(cd "$inc" && pwd -P) == $(cd "$P/include" && pwd -P) ]] ||
  fail "pkg-config kiln's includedir '$inc' is not the moved prefix's include/"

step "a model whose layer no loaded plugin provides names the plugin to install"
set +e
"$EX/infer_c/infer" "$WORK/mlp.kiln" >"$WORK/missing.txt" 2>&1
rc=$?
set -e
[[ $rc != 0 ]] || fail "infer loaded a model with a Swish layer without the plugin"
expect_in "$WORK/missing.txt" "KILN_RESULT_FILE_ERROR" "'Swish'" "swish_layer.so"

step "layer plugins: another major version and a taken name are refused; the rest keeps working"
mkdir -p "$WORK/more"
cp "$EX/swish_layer/swish_layer.so" "$WORK/more/swish_layer_copy.so"
${CC:-cc} -std=c99 -shared -fPIC "$HERE/other_major_plugin.c" -o "$WORK/more/other_major_plugin.so" || fail "cc other_major_plugin.c"
KILN_PLUGIN_PATH="$WORK/layers:$WORK/more" "$P/bin/kiln" plugins >"$WORK/refused.txt" 2>&1 ||
  { cat "$WORK/refused.txt"; fail "kiln plugins with refused layer plugins"; }
expect_in "$WORK/refused.txt" "other_major_plugin.so" "layer plugin built for Kiln 7.2.0, but this is Kiln 0.1.0" \
  "swish_layer_copy.so" "registers layer 'Swish', but that name is already taken by 'swish_layer.so'" \
  "$LIB/kiln/backends/kiln_backend_ref.so"
KILN_PLUGIN_PATH="$WORK/layers:$WORK/more" "$EX/infer_c/infer" "$WORK/mlp.kiln" "$WORK/probe.txt" >/dev/null ||
  fail "infer with a refused duplicate plugin on the path"

echo "sdk_install_test: all checks passed"
