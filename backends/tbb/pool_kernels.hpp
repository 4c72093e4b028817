// Row kernels of the 2x2, stride-2 max pool (Note [2x2 max pool fast path] in pool.cpp): a portable
// template (float64, tails, and CPUs without AVX2) and float32 kernels per ISA (pool_avx512.cpp,
// pool_avx2.cpp) picked at run time from the CPU's feature bits, as the GEMM picks its micro-kernel.
#ifndef KILN_BACKENDS_TBB_POOL_KERNELS_HPP
#define KILN_BACKENDS_TBB_POOL_KERNELS_HPP

#include <cstdint>

namespace kiln::tbbk {

// One output row of n windows. Window j covers r0[2j], r0[2j+1] (row 2*oh of the plane) and
// r0[W + 2j], r0[W + 2j + 1] (the row below); its max goes to y[j] and its plane index to
// idx[j] = base + 2j + (0 | 1 | W | W+1), base being the plane index of r0[0]. The first maximum
// in row-major window order wins, and the first NaN beats everything (the generic kernel's rule).
template <class T>
inline void maxpool2x2_row(const T* r0, int64_t W, int64_t n, int64_t base, T* y, int64_t* idx) {
  const T* r1 = r0 + W;
  for (int64_t j = 0; j < n; ++j) {
    const T v[4] = {r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1]};
    const int64_t off[4] = {0, 1, W, W + 1};
    T best = v[0];
    int64_t at = 0;
    for (int k = 1; k < 4 && best == best; ++k)
      if (v[k] > best || v[k] != v[k]) {
        best = v[k];
        at = off[k];
      }
    y[j] = best;
    idx[j] = base + 2 * j + at;
  }
}

// The backward of one such row: dx0 is the row r0's gradient (dx0 + W the row below), columns
// [0, 2n) written: dy[j] at idx[j]'s cell of window j, 0 in its three others. Returns false as
// soon as an idx[j] is not in its own window (dx0's row then holds partial results; the caller
// redoes the plane with the general scatter).
template <class T>
inline bool maxpool2x2_backward_row(const T* dy, const int64_t* idx, int64_t W, int64_t n, int64_t base, T* dx0) {
  T* dx1 = dx0 + W;
  for (int64_t j = 0; j < n; ++j) {
    const int64_t off = idx[j] - (base + 2 * j);
    if (off != 0 && off != 1 && off != W && off != W + 1) return false;
    const T g = dy[j];
    dx0[2 * j] = off == 0 ? g : T(0);
    dx0[2 * j + 1] = off == 1 ? g : T(0);
    dx1[2 * j] = off == W ? g : T(0);
    dx1[2 * j + 1] = off == W + 1 ? g : T(0);
  }
  return true;
}

struct MaxPool2x2Kernels {
  const char* isa = "";
  void (*forward)(const float* r0, int64_t W, int64_t n, int64_t base, float* y, int64_t* idx) = nullptr;
  bool (*backward)(const float* dy, const int64_t* idx, int64_t W, int64_t n, int64_t base, float* dx0) = nullptr;
};
MaxPool2x2Kernels maxpool2x2_kernels_avx512();
MaxPool2x2Kernels maxpool2x2_kernels_avx2();
// The ones for this CPU (cpu_isa(), so KILN_TBB_ISA=avx2|generic applies).
const MaxPool2x2Kernels& maxpool2x2_kernels();

}  // namespace kiln::tbbk

#endif  // KILN_BACKENDS_TBB_POOL_KERNELS_HPP
