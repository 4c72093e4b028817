// AVX-512 GEMM micro-kernels: a tile of MR rows x 2 zmm columns of C lives in registers;
// per k, two vectors of packed B are loaded and MR values of packed A are broadcast.
#include <immintrin.h>

#include "gemm.hpp"

namespace kiln::tbbk {
namespace {

#define KILN_AVX512 __attribute__((target("avx512f,fma")))

template <int MR>
KILN_AVX512 void sgemm_avx512(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate) {
  __m512 c0[MR], c1[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) c0[i] = c1[i] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
    _mm_prefetch(reinterpret_cast<const char*>(b + 256), _MM_HINT_T0);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
    }
    a += MR;
    b += 32;
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    float* row = c + i * ldc;
    if (accumulate) {
      c0[i] = _mm512_add_ps(c0[i], _mm512_loadu_ps(row));
      c1[i] = _mm512_add_ps(c1[i], _mm512_loadu_ps(row + 16));
    }
    _mm512_storeu_ps(row, c0[i]);
    _mm512_storeu_ps(row + 16, c1[i]);
  }
}

template <int MR>
KILN_AVX512 void dgemm_avx512(int64_t kc, const double* a, const double* b, double* c, int64_t ldc, bool accumulate) {
  __m512d c0[MR], c1[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) c0[i] = c1[i] = _mm512_setzero_pd();
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    const __m512d b0 = _mm512_load_pd(b), b1 = _mm512_load_pd(b + 8);
    _mm_prefetch(reinterpret_cast<const char*>(b + 128), _MM_HINT_T0);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512d ai = _mm512_set1_pd(a[i]);
      c0[i] = _mm512_fmadd_pd(ai, b0, c0[i]);
      c1[i] = _mm512_fmadd_pd(ai, b1, c1[i]);
    }
    a += MR;
    b += 16;
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    double* row = c + i * ldc;
    if (accumulate) {
      c0[i] = _mm512_add_pd(c0[i], _mm512_loadu_pd(row));
      c1[i] = _mm512_add_pd(c1[i], _mm512_loadu_pd(row + 8));
    }
    _mm512_storeu_pd(row, c0[i]);
    _mm512_storeu_pd(row + 8, c1[i]);
  }
}

}  // namespace

MicroKernel<float> sgemm_kernel_avx512() { return {12, 32, 384, 480, "avx512", &sgemm_avx512<12>}; }
MicroKernel<double> dgemm_kernel_avx512() { return {12, 16, 256, 240, "avx512", &dgemm_avx512<12>}; }

}  // namespace kiln::tbbk
