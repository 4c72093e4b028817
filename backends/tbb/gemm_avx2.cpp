// AVX2+FMA GEMM micro-kernels: 6 rows x 2 ymm columns of C in registers.
#include <immintrin.h>

#include "gemm.hpp"

namespace kiln::tbbk {
namespace {

#define KILN_AVX2 __attribute__((target("avx2,fma")))

KILN_AVX2 void sgemm_avx2(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  constexpr int MR = 6;
  __m256 c0[MR], c1[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) c0[i] = c1[i] = _mm256_setzero_ps();
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
    }
    a += MR;
    b += ldb;
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    float* row = c + i * ldc;
    if (accumulate) {
      c0[i] = _mm256_add_ps(c0[i], _mm256_loadu_ps(row));
      c1[i] = _mm256_add_ps(c1[i], _mm256_loadu_ps(row + 8));
    }
    _mm256_storeu_ps(row, c0[i]);
    _mm256_storeu_ps(row + 8, c1[i]);
  }
}

KILN_AVX2 void dgemm_avx2(int64_t kc, const double* a, const double* b, int64_t ldb, double* c, int64_t ldc,
                          bool accumulate) {
  constexpr int MR = 6;
  __m256d c0[MR], c1[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) c0[i] = c1[i] = _mm256_setzero_pd();
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    const __m256d b0 = _mm256_loadu_pd(b), b1 = _mm256_loadu_pd(b + 4);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m256d ai = _mm256_broadcast_sd(a + i);
      c0[i] = _mm256_fmadd_pd(ai, b0, c0[i]);
      c1[i] = _mm256_fmadd_pd(ai, b1, c1[i]);
    }
    a += MR;
    b += ldb;
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    double* row = c + i * ldc;
    if (accumulate) {
      c0[i] = _mm256_add_pd(c0[i], _mm256_loadu_pd(row));
      c1[i] = _mm256_add_pd(c1[i], _mm256_loadu_pd(row + 4));
    }
    _mm256_storeu_pd(row, c0[i]);
    _mm256_storeu_pd(row + 4, c1[i]);
  }
}

// A partial tile: the full one into a local tile, then the rows and columns that exist.
template <class T, int MR, int NR, void (*Full)(int64_t, const T*, const T*, int64_t, T*, int64_t, bool)>
void run(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, bool accumulate, int rows, int cols) {
  if (rows == MR && cols == NR) return Full(kc, a, b, ldb, c, ldc, accumulate);
  alignas(32) T tile[MR * NR];
  Full(kc, a, b, ldb, tile, NR, false);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + tile[i * NR + j] : tile[i * NR + j];
}

}  // namespace

MicroKernel<float> sgemm_kernel_avx2() { return {6, 16, 256, 512, "avx2", &run<float, 6, 16, &sgemm_avx2>}; }
MicroKernel<double> dgemm_kernel_avx2() { return {6, 8, 256, 256, "avx2", &run<double, 6, 8, &dgemm_avx2>}; }

}  // namespace kiln::tbbk
