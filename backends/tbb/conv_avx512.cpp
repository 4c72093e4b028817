// AVX-512 im2col for float32 with width stride 1: each output row of a col row is one masked load
// (the lanes whose input column lies inside the image; masked-off lanes are never read, so the
// load may start before the image row) and one store, instead of a zero fill, a copy and a zero
// fill per row. LeNet's rows are 28 and 10 elements: one or two vectors each. The store is a full
// 16 lanes wherever the col row has room (what spills over is the next output row's start, written
// next, or the padding, zeroed last): masked stores are the slower ones.
#include <immintrin.h>

#include "conv_kernels.hpp"

namespace kiln::tbbk {
namespace {

#define KILN_AVX512 __attribute__((target("avx512f")))

KILN_AVX512 inline __mmask16 first_lanes(int64_t count) {
  return count >= 16 ? __mmask16(0xFFFF) : count <= 0 ? __mmask16(0) : __mmask16((1u << count) - 1);
}

KILN_AVX512 void im2col(const Im2colShape& g, const float* x, float* col, int64_t ld) {
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t c = 0; c < g.Cg; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        float* row = col + ((c * g.KH + kh) * g.KW + kw) * ld;
        const int64_t iw0 = kw * g.dw - g.pw;
        // output columns [lo, hi) read input columns iw0 + ow inside [0, W)
        const int64_t lo = iw0 >= 0 ? 0 : (-iw0 < g.OW ? -iw0 : g.OW);
        const int64_t hi = g.W - iw0 < lo ? lo : (g.W - iw0 < g.OW ? g.W - iw0 : g.OW);
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          float* dst = row + oh * g.OW;
          const int64_t ih = oh * g.sh - g.ph + kh * g.dh;
          const bool inside = ih >= 0 && ih < g.H;
          const float* src = x + (c * g.H + (inside ? ih : 0)) * g.W;
          for (int64_t j = 0; j < g.OW; j += 16) {
            const __mmask16 valid = inside ? __mmask16(first_lanes(hi - j) & ~first_lanes(lo - j)) : __mmask16(0);
            const __m512 v = valid ? _mm512_maskz_loadu_ps(valid, src + iw0 + j) : zero;
            if (oh * g.OW + j + 16 <= ld) {
              _mm512_storeu_ps(dst + j, v);
            } else {
              _mm512_mask_storeu_ps(dst + j, first_lanes(g.OW - j), v);
            }
          }
        }
        for (int64_t j = g.P; j < ld; j += 16) _mm512_mask_storeu_ps(row + j, first_lanes(ld - j), zero);
      }
}

}  // namespace

Im2colF32 im2col_f32_avx512() { return &im2col; }

}  // namespace kiln::tbbk
