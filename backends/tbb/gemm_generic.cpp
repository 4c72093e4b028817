// Portable GEMM micro-kernels (any x86-64 or other CPU): plain loops the compiler vectorizes
// with the baseline instruction set.
#include "gemm.hpp"

namespace kiln::tbbk {
namespace {

template <class T, int MR, int NR>
void gemm_generic(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, bool accumulate, int rows,
                  int cols) {
  T acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
    a += MR;
    b += ldb;
  }
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

}  // namespace

MicroKernel<float> sgemm_kernel_generic() { return {4, 8, 256, 256, "generic", &gemm_generic<float, 4, 8>}; }
MicroKernel<double> dgemm_kernel_generic() { return {4, 4, 256, 256, "generic", &gemm_generic<double, 4, 4>}; }

}  // namespace kiln::tbbk
