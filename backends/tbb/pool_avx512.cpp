// AVX-512 rows of the 2x2, stride-2 max pool (pool_kernels.hpp): 16 windows per step. Two rows of
// 32 inputs are loaded and split into even and odd columns with one two-source permute each; the
// tail of a row (LeNet's rows are 14 and 5 windows wide) uses masked loads and stores.
#include <immintrin.h>

#include "pool_kernels.hpp"

// GCC 12's intrinsics fill the unused lanes of cvtepi32_epi64 and extract from
// _mm*_undefined_*(), which -Wmaybe-uninitialized flags once inlined (GCC bug 105593, fixed in 13).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace kiln::tbbk {
namespace {

#define KILN_AVX512 __attribute__((target("avx512f")))

KILN_AVX512 inline __mmask16 first_lanes(int64_t count) {
  return count >= 16 ? __mmask16(0xFFFF) : count <= 0 ? __mmask16(0) : __mmask16((1u << count) - 1);
}

// best := v where v beats best (v > best, or v is NaN and best is not); which := code there.
KILN_AVX512 inline void take(__m512 v, __m512i code, __m512& best, __m512i& which) {
  const __mmask16 ordered = _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q);
  const __mmask16 m = _mm512_mask_cmp_ps_mask(ordered, v, best, _CMP_NLE_UQ);
  best = _mm512_mask_mov_ps(best, m, v);
  which = _mm512_mask_mov_epi32(which, m, code);
}

KILN_AVX512 void forward(const float* r0, int64_t W, int64_t n, int64_t base, float* y, int64_t* idx) {
  const float* r1 = r0 + W;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512i iota2 = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512i code_tr = _mm512_set1_epi32(1), code_bl = _mm512_set1_epi32(static_cast<int32_t>(W)),
                code_br = _mm512_set1_epi32(static_cast<int32_t>(W + 1));
  for (int64_t j = 0; j < n; j += 16) {
    const int64_t count = n - j < 16 ? n - j : 16;
    const __mmask16 m_out = first_lanes(count), m_in0 = first_lanes(2 * count), m_in1 = first_lanes(2 * count - 16);
    const __m512 a0 = _mm512_maskz_loadu_ps(m_in0, r0 + 2 * j), a1 = _mm512_maskz_loadu_ps(m_in1, r0 + 2 * j + 16);
    const __m512 b0 = _mm512_maskz_loadu_ps(m_in0, r1 + 2 * j), b1 = _mm512_maskz_loadu_ps(m_in1, r1 + 2 * j + 16);
    __m512 best = _mm512_permutex2var_ps(a0, even, a1);
    __m512i which = _mm512_setzero_si512();
    take(_mm512_permutex2var_ps(a0, odd, a1), code_tr, best, which);
    take(_mm512_permutex2var_ps(b0, even, b1), code_bl, best, which);
    take(_mm512_permutex2var_ps(b0, odd, b1), code_br, best, which);
    _mm512_mask_storeu_ps(y + j, m_out, best);
    const __m512i at = _mm512_add_epi64(_mm512_set1_epi64(base + 2 * j), iota2);
    const __m512i lo = _mm512_add_epi64(at, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(which)));
    const __m512i hi = _mm512_add_epi64(_mm512_add_epi64(at, _mm512_set1_epi64(16)),
                                        _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(which, 1)));
    _mm512_mask_storeu_epi64(idx + j, static_cast<__mmask8>(m_out), lo);
    _mm512_mask_storeu_epi64(idx + j + 8, static_cast<__mmask8>(m_out >> 8), hi);
  }
}

// Lanes of 16 windows whose index offset (in two halves of 8) equals `value`.
KILN_AVX512 inline __mmask16 offset_is(__m512i lo, __m512i hi, int64_t value) {
  const __m512i v = _mm512_set1_epi64(value);
  return static_cast<__mmask16>(_mm512_cmpeq_epi64_mask(lo, v) |
                                (static_cast<unsigned>(_mm512_cmpeq_epi64_mask(hi, v)) << 8));
}

KILN_AVX512 bool backward(const float* dy, const int64_t* idx, int64_t W, int64_t n, int64_t base, float* dx0) {
  float* dx1 = dx0 + W;
  const __m512i iota2 = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  // interleave two vectors of 16: lo = (a0, b0, a1, b1, ..., a7, b7), hi = (a8, b8, ..., a15, b15)
  const __m512i zip_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i zip_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  for (int64_t j = 0; j < n; j += 16) {
    const int64_t count = n - j < 16 ? n - j : 16;
    const __mmask16 m_out = first_lanes(count), m_in0 = first_lanes(2 * count), m_in1 = first_lanes(2 * count - 16);
    const __m512i at = _mm512_add_epi64(_mm512_set1_epi64(base + 2 * j), iota2);
    const __m512i off_lo = _mm512_sub_epi64(_mm512_maskz_loadu_epi64(static_cast<__mmask8>(m_out), idx + j), at);
    const __m512i off_hi = _mm512_sub_epi64(
        _mm512_maskz_loadu_epi64(static_cast<__mmask8>(m_out >> 8), idx + j + 8),
        _mm512_add_epi64(at, _mm512_set1_epi64(16)));
    const __mmask16 tl = offset_is(off_lo, off_hi, 0), tr = offset_is(off_lo, off_hi, 1),
                    bl = offset_is(off_lo, off_hi, W), br = offset_is(off_lo, off_hi, W + 1);
    if (((tl | tr | bl | br) & m_out) != m_out) return false;
    const __m512 g = _mm512_maskz_loadu_ps(m_out, dy + j);
    const __m512 g_tl = _mm512_maskz_mov_ps(tl, g), g_tr = _mm512_maskz_mov_ps(tr, g);
    const __m512 g_bl = _mm512_maskz_mov_ps(bl, g), g_br = _mm512_maskz_mov_ps(br, g);
    _mm512_mask_storeu_ps(dx0 + 2 * j, m_in0, _mm512_permutex2var_ps(g_tl, zip_lo, g_tr));
    _mm512_mask_storeu_ps(dx0 + 2 * j + 16, m_in1, _mm512_permutex2var_ps(g_tl, zip_hi, g_tr));
    _mm512_mask_storeu_ps(dx1 + 2 * j, m_in0, _mm512_permutex2var_ps(g_bl, zip_lo, g_br));
    _mm512_mask_storeu_ps(dx1 + 2 * j + 16, m_in1, _mm512_permutex2var_ps(g_bl, zip_hi, g_br));
  }
  return true;
}

}  // namespace

MaxPool2x2Kernels maxpool2x2_kernels_avx512() { return {"avx512", &forward, &backward}; }

}  // namespace kiln::tbbk
