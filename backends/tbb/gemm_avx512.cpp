// AVX-512 GEMM micro-kernels: a tile of up to MR rows x 2 zmm columns of C lives in registers;
// per k, two vectors of B are loaded and one value of packed A per row is broadcast. Partial tiles
// (the last rows of a matrix, LeNet's 6-row convolution) run a kernel built for their row count and
// masked loads and stores for their columns, so no lane is computed for nothing and no tile is
// copied through a buffer.
#include <immintrin.h>

#include "gemm.hpp"

namespace kiln::tbbk {
namespace {

#define KILN_AVX512 __attribute__((target("avx512f,fma")))

constexpr int kMR = 12;  // rows of a packed A micro-panel

template <int R>
KILN_AVX512 void sgemm_avx512(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc,
                              bool accumulate, __mmask16 m0, __mmask16 m1) {
  __m512 c0[R], c1[R];
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) c0[i] = c1[i] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * ldb), _MM_HINT_T0);
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
    }
    a += kMR;
    b += ldb;
  }
  if (m0 == 0xFFFF && m1 == 0xFFFF) {
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      float* row = c + i * ldc;
      if (accumulate) {
        c0[i] = _mm512_add_ps(c0[i], _mm512_loadu_ps(row));
        c1[i] = _mm512_add_ps(c1[i], _mm512_loadu_ps(row + 16));
      }
      _mm512_storeu_ps(row, c0[i]);
      _mm512_storeu_ps(row + 16, c1[i]);
    }
    return;
  }
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) {
    float* row = c + i * ldc;
    if (accumulate) {
      c0[i] = _mm512_add_ps(c0[i], _mm512_maskz_loadu_ps(m0, row));
      c1[i] = _mm512_add_ps(c1[i], _mm512_maskz_loadu_ps(m1, row + 16));
    }
    _mm512_mask_storeu_ps(row, m0, c0[i]);
    _mm512_mask_storeu_ps(row + 16, m1, c1[i]);
  }
}

template <int R>
KILN_AVX512 void dgemm_avx512(int64_t kc, const double* a, const double* b, int64_t ldb, double* c, int64_t ldc,
                              bool accumulate, __mmask8 m0, __mmask8 m1) {
  __m512d c0[R], c1[R];
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) c0[i] = c1[i] = _mm512_setzero_pd();
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    const __m512d b0 = _mm512_loadu_pd(b), b1 = _mm512_loadu_pd(b + 8);
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * ldb), _MM_HINT_T0);
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      const __m512d ai = _mm512_set1_pd(a[i]);
      c0[i] = _mm512_fmadd_pd(ai, b0, c0[i]);
      c1[i] = _mm512_fmadd_pd(ai, b1, c1[i]);
    }
    a += kMR;
    b += ldb;
  }
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) {
    double* row = c + i * ldc;
    if (accumulate) {
      c0[i] = _mm512_add_pd(c0[i], _mm512_maskz_loadu_pd(m0, row));
      c1[i] = _mm512_add_pd(c1[i], _mm512_maskz_loadu_pd(m1, row + 8));
    }
    _mm512_mask_storeu_pd(row, m0, c0[i]);
    _mm512_mask_storeu_pd(row + 8, m1, c1[i]);
  }
}

// The first `count` lanes of a vector of `lanes` (count may be below 0 or above lanes).
constexpr unsigned first_lanes(int count, int lanes) {
  return count <= 0 ? 0u : count >= lanes ? (1u << lanes) - 1 : (1u << count) - 1;
}

template <int... R>
struct Kernels {
  static void sgemm(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate,
                    int rows, int cols) {
    using Fn = void (*)(int64_t, const float*, const float*, int64_t, float*, int64_t, bool, __mmask16, __mmask16);
    static constexpr Fn table[] = {nullptr, &sgemm_avx512<R>...};
    table[rows](kc, a, b, ldb, c, ldc, accumulate, static_cast<__mmask16>(first_lanes(cols, 16)),
                static_cast<__mmask16>(first_lanes(cols - 16, 16)));
  }
  static void dgemm(int64_t kc, const double* a, const double* b, int64_t ldb, double* c, int64_t ldc,
                    bool accumulate, int rows, int cols) {
    using Fn = void (*)(int64_t, const double*, const double*, int64_t, double*, int64_t, bool, __mmask8, __mmask8);
    static constexpr Fn table[] = {nullptr, &dgemm_avx512<R>...};
    table[rows](kc, a, b, ldb, c, ldc, accumulate, static_cast<__mmask8>(first_lanes(cols, 8)),
                static_cast<__mmask8>(first_lanes(cols - 8, 8)));
  }
};
using AllRows = Kernels<1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12>;

}  // namespace

MicroKernel<float> sgemm_kernel_avx512() { return {kMR, 32, 384, 480, "avx512", &AllRows::sgemm}; }
MicroKernel<double> dgemm_kernel_avx512() { return {kMR, 16, 256, 240, "avx512", &AllRows::dgemm}; }

}  // namespace kiln::tbbk
