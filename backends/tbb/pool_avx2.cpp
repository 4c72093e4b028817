// AVX2 rows of the 2x2, stride-2 max pool (pool_kernels.hpp): 8 windows per forward step, 4 per
// backward step (the indices are 64-bit); what is left of a row goes through the portable code.
#include <immintrin.h>

#include "pool_kernels.hpp"

namespace kiln::tbbk {
namespace {

#define KILN_AVX2 __attribute__((target("avx2")))

// The even (imm 0x88) or odd (0xDD) elements of the 16 floats a, b, in order.
template <int Imm>
KILN_AVX2 inline __m256 deinterleave(__m256 a, __m256 b) {
  // shuffle gives (a0 a2 b0 b2 | a4 a6 b4 b6) for the even ones; swapping the middle 64-bit pairs orders them
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, Imm)), 0xD8));
}

// best := v where v beats best (v > best, or v is NaN and best is not); which := code there.
KILN_AVX2 inline void take(__m256 v, __m256 code, __m256& best, __m256& which) {
  const __m256 m = _mm256_and_ps(_mm256_cmp_ps(v, best, _CMP_NLE_UQ), _mm256_cmp_ps(best, best, _CMP_ORD_Q));
  best = _mm256_blendv_ps(best, v, m);
  which = _mm256_blendv_ps(which, code, m);
}

KILN_AVX2 void forward(const float* r0, int64_t W, int64_t n, int64_t base, float* y, int64_t* idx) {
  const float* r1 = r0 + W;
  const __m256i iota2 = _mm256_setr_epi64x(0, 2, 4, 6);
  const __m256 code_tr = _mm256_castsi256_ps(_mm256_set1_epi32(1));
  const __m256 code_bl = _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int32_t>(W)));
  const __m256 code_br = _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int32_t>(W + 1)));
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 a0 = _mm256_loadu_ps(r0 + 2 * j), a1 = _mm256_loadu_ps(r0 + 2 * j + 8);
    const __m256 b0 = _mm256_loadu_ps(r1 + 2 * j), b1 = _mm256_loadu_ps(r1 + 2 * j + 8);
    __m256 best = deinterleave<0x88>(a0, a1);
    __m256 which = _mm256_setzero_ps();
    take(deinterleave<0xDD>(a0, a1), code_tr, best, which);
    take(deinterleave<0x88>(b0, b1), code_bl, best, which);
    take(deinterleave<0xDD>(b0, b1), code_br, best, which);
    _mm256_storeu_ps(y + j, best);
    const __m256i w = _mm256_castps_si256(which);
    const __m256i at = _mm256_add_epi64(_mm256_set1_epi64x(base + 2 * j), iota2);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(idx + j),
                        _mm256_add_epi64(at, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(w))));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(idx + j + 4),
                        _mm256_add_epi64(_mm256_add_epi64(at, _mm256_set1_epi64x(8)),
                                         _mm256_cvtepi32_epi64(_mm256_extracti128_si256(w, 1))));
  }
  maxpool2x2_row(r0 + 2 * j, W, n - j, base + 2 * j, y + j, idx + j);
}

// The four 64-bit lane masks as a float mask of 4 lanes.
KILN_AVX2 inline __m128 narrow(__m256i mask64) {
  return _mm_castsi128_ps(
      _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(mask64, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6))));
}

KILN_AVX2 bool backward(const float* dy, const int64_t* idx, int64_t W, int64_t n, int64_t base, float* dx0) {
  float* dx1 = dx0 + W;
  const __m256i iota2 = _mm256_setr_epi64x(0, 2, 4, 6);
  const __m256i zero = _mm256_setzero_si256(), one = _mm256_set1_epi64x(1), w0 = _mm256_set1_epi64x(W),
                w1 = _mm256_set1_epi64x(W + 1);
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const __m256i off = _mm256_sub_epi64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + j)),
                                         _mm256_add_epi64(_mm256_set1_epi64x(base + 2 * j), iota2));
    const __m256i tl = _mm256_cmpeq_epi64(off, zero), tr = _mm256_cmpeq_epi64(off, one);
    const __m256i bl = _mm256_cmpeq_epi64(off, w0), br = _mm256_cmpeq_epi64(off, w1);
    const __m256i any = _mm256_or_si256(_mm256_or_si256(tl, tr), _mm256_or_si256(bl, br));
    if (_mm256_movemask_pd(_mm256_castsi256_pd(any)) != 0xF) return false;
    const __m128 g = _mm_loadu_ps(dy + j);
    const __m128 g_tl = _mm_and_ps(g, narrow(tl)), g_tr = _mm_and_ps(g, narrow(tr));
    const __m128 g_bl = _mm_and_ps(g, narrow(bl)), g_br = _mm_and_ps(g, narrow(br));
    _mm_storeu_ps(dx0 + 2 * j, _mm_unpacklo_ps(g_tl, g_tr));
    _mm_storeu_ps(dx0 + 2 * j + 4, _mm_unpackhi_ps(g_tl, g_tr));
    _mm_storeu_ps(dx1 + 2 * j, _mm_unpacklo_ps(g_bl, g_br));
    _mm_storeu_ps(dx1 + 2 * j + 4, _mm_unpackhi_ps(g_bl, g_br));
  }
  return maxpool2x2_backward_row(dy + j, idx + j, W, n - j, base + 2 * j, dx0 + 2 * j);
}

}  // namespace

MaxPool2x2Kernels maxpool2x2_kernels_avx2() { return {"avx2", &forward, &backward}; }

}  // namespace kiln::tbbk
