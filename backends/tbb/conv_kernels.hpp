// Vectorized pieces of the convolution (conv.cpp), picked at run time from the CPU's feature bits.
#ifndef KILN_BACKENDS_TBB_CONV_KERNELS_HPP
#define KILN_BACKENDS_TBB_CONV_KERNELS_HPP

#include <cstdint>

namespace kiln::tbbk {

// What im2col needs of a convolution's geometry (one group of Cg input channels).
struct Im2colShape {
  int64_t Cg, H, W, KH, KW, OH, OW, P;
  int64_t sh, ph, pw, dh, dw;  // the width stride is 1
};

// col[(c*KH + kh)*KW + kw][oh*OW + ow] = x[c][oh*sh - ph + kh*dh][ow - pw + kw*dw] (0 outside the
// image), rows ld apart, columns P..ld zero: conv.cpp's im2col for float32 and width stride 1.
// Null where the CPU has no AVX-512 (conv.cpp's portable loops run instead).
using Im2colF32 = void (*)(const Im2colShape& g, const float* x, float* col, int64_t ld);
Im2colF32 im2col_f32_avx512();

}  // namespace kiln::tbbk

#endif  // KILN_BACKENDS_TBB_CONV_KERNELS_HPP
