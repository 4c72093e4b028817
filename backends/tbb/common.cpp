// The strided-layout engine and dense copies of strided inputs.
#include "common.hpp"
#include "map.hpp"

#include <cstdlib>
#include <cstring>

namespace kiln::tbbk {

Isa cpu_isa() {
  static const Isa isa = [] {
    const char* forced = std::getenv("KILN_TBB_ISA");
    const bool allow512 = !forced || std::strcmp(forced, "avx512") == 0;
    const bool allow2 = !forced || std::strcmp(forced, "generic") != 0;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (allow512 && __builtin_cpu_supports("avx512f")) return Isa::avx512;
    if (allow2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
#else
    (void)allow512;
    (void)allow2;
#endif
    return Isa::generic;
  }();
  return isa;
}

Layout make_layout(const kiln_tensor_desc* const* descs, int nops) {
  Layout L;
  L.nops = nops;
  const kiln_tensor_desc& first = *descs[0];
  for (int d = 0; d < first.ndim; ++d) {
    const int64_t extent = first.shape[d];
    if (extent == 1) continue;
    bool merge = L.ndim > 0;
    for (int k = 0; k < nops && merge; ++k)
      merge = L.strides[k][L.ndim - 1] == descs[k]->strides[d] * extent;
    if (merge) {
      L.shape[L.ndim - 1] *= extent;
      for (int k = 0; k < nops; ++k) L.strides[k][L.ndim - 1] = descs[k]->strides[d];
    } else {
      L.shape[L.ndim] = extent;
      for (int k = 0; k < nops; ++k) L.strides[k][L.ndim] = descs[k]->strides[d];
      ++L.ndim;
    }
  }
  if (L.ndim == 0) {  // a scalar, or all extents 1
    L.ndim = 1;
    L.shape[0] = 1;
    for (int k = 0; k < nops; ++k) L.strides[k][0] = 0;
  }
  return L;
}

DenseInput::DenseInput(const kiln_tensor_desc& src) : desc_(src) {
  if (is_contiguous(src)) return;
  const int64_t n = numel(src);
  const size_t elsize = kiln_dtype_size(src.dtype);
  storage_.resize(static_cast<size_t>(n) * elsize + 1);
  desc_.data = storage_.data();
  desc_.offset = 0;
  int64_t expected = 1;
  for (int d = src.ndim - 1; d >= 0; --d) {
    desc_.strides[d] = expected;
    expected *= src.shape[d];
  }
  switch (elsize) {  // a copy moves bytes: dispatch on the element size only
    case 1: map1<uint8_t, uint8_t>(desc_, src, kGrainCheap, [](uint8_t v) { return v; }); break;
    case 4: map1<uint32_t, uint32_t>(desc_, src, kGrainCheap, [](uint32_t v) { return v; }); break;
    case 8: map1<uint64_t, uint64_t>(desc_, src, kGrainCheap, [](uint64_t v) { return v; }); break;
    default: unexpected_dtype(src.dtype);
  }
}

}  // namespace kiln::tbbk
