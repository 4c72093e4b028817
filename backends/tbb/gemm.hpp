// The backend's own packed, cache-blocked GEMM (float32 and float64):
//   C[M x N] (row-major, leading dimension ldc) = (accumulate ? C : 0) + A[M x K] * B[K x N]
// A and B may have any row and column strides (transposed operands are handled by packing).
// With `parallel`, large products split across TBB threads; the split never changes the
// arithmetic of an element, so results do not depend on the thread count.
#ifndef KILN_BACKENDS_TBB_GEMM_HPP
#define KILN_BACKENDS_TBB_GEMM_HPP

#include <cstdint>
#include <vector>

namespace kiln::tbbk {

template <class T>
void gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t a_rs, int64_t a_cs, const T* B, int64_t b_rs,
          int64_t b_cs, T* C, int64_t ldc, bool accumulate, bool parallel);

// A left operand [M x K] packed once for many products with it (a convolution's weights over the
// images of a batch); the same arithmetic as packing per call.
template <class T>
class PackedA {
 public:
  PackedA(int64_t M, int64_t K, const T* A, int64_t a_rs, int64_t a_cs);
  int64_t rows() const { return rows_; }
  int64_t depth() const { return depth_; }
  const T* data() const { return data_.data(); }

 private:
  int64_t rows_, depth_;
  std::vector<T> data_;
};

// C = (accumulate ? C : 0) + A * B with A packed. b_readable (>= N): columns of each row of B that
// may be read, so that B's rows padded to a multiple of kGemmColumnPad are read in place.
template <class T>
void gemm(const PackedA<T>& A, int64_t N, const T* B, int64_t b_rs, int64_t b_cs, int64_t b_readable, T* C,
          int64_t ldc, bool accumulate, bool parallel);
inline constexpr int64_t kGemmColumnPad = 64;  // a multiple of every kernel's NR

// A micro-kernel computes one tile of at most MR x NR of C from a packed A micro-panel and NR-wide
// rows of B (a packed B micro-panel, ldb = NR, or B itself when its rows are contiguous):
//   C[i][j] (+)= sum_k a[k * MR + i] * b[k * ldb + j]   for i < rows, j < cols,
// row i of C at c + i * ldc. rows <= MR and cols <= NR; b's rows are read NR wide whatever cols is.
template <class T>
struct MicroKernel {
  int mr = 0;
  int nr = 0;
  int64_t kc = 0;  // depth of a packed block (the A micro-panel stays in L1)
  int64_t nc = 0;  // columns of a packed B block (stays in L2)
  const char* isa = "";
  void (*run)(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, bool accumulate, int rows,
              int cols) = nullptr;
};

// Per-ISA kernels (gemm_avx512.cpp, gemm_avx2.cpp, gemm_generic.cpp).
MicroKernel<float> sgemm_kernel_avx512();
MicroKernel<double> dgemm_kernel_avx512();
MicroKernel<float> sgemm_kernel_avx2();
MicroKernel<double> dgemm_kernel_avx2();
MicroKernel<float> sgemm_kernel_generic();
MicroKernel<double> dgemm_kernel_generic();

// The kernels chosen for this CPU (AVX-512 > AVX2+FMA > portable); KILN_TBB_ISA=avx2|generic
// forces a lower one for testing.
const MicroKernel<float>& sgemm_kernel();
const MicroKernel<double>& dgemm_kernel();
const char* gemm_isa();

}  // namespace kiln::tbbk

#endif  // KILN_BACKENDS_TBB_GEMM_HPP
