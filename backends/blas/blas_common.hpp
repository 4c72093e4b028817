// Helpers of the blas backend: typed cblas GEMM, dense copies of strided inputs, errors.
#ifndef KILN_BACKENDS_BLAS_COMMON_HPP
#define KILN_BACKENDS_BLAS_COMMON_HPP

#include <cblas.h>
#include <kiln/plugin/host_backend.hpp>

#include <cstdint>
#include <limits>
#include <vector>

namespace kiln::blas {

using plugin::fail;
using Desc = kiln_tensor_desc;

inline const char* op_name(kiln_op op) { return kiln_op_name(op); }

template <class T>
inline T* base_ptr(const Desc& d) {
  return static_cast<T*>(d.data) + d.offset;
}
inline int64_t numel(const Desc& d) { return kiln_desc_numel(&d); }

// Extents handed to cblas must fit its integer type.
inline blasint to_blasint(int64_t v, kiln_op op) {
  if (v < 0 || v > std::numeric_limits<blasint>::max())
    fail(KILN_STATUS_INVALID_ARGUMENT, "blas: ", op_name(op), ": extent ", v, " does not fit the BLAS integer type");
  return static_cast<blasint>(v);
}

// Row-major C (ldc) = alpha * op(A) op(B) + beta * C
inline void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, blasint m, blasint n, blasint k, const float* a, blasint lda,
                 const float* b, blasint ldb, float beta, float* c, blasint ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}
inline void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, blasint m, blasint n, blasint k, const double* a, blasint lda,
                 const double* b, blasint ldb, double beta, double* c, blasint ldc) {
  cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
}

// A contiguous copy of a strided float input, or the input itself when already contiguous.
template <class T>
class Dense {
 public:
  explicit Dense(const Desc& d) : ptr_(base_ptr<const T>(d)) {
    if (kiln_desc_is_contiguous(&d)) return;
    copy_.resize(static_cast<size_t>(numel(d)));
    int64_t idx[KILN_MAX_DIMS] = {};
    const T* src = base_ptr<const T>(d);
    const int64_t n = numel(d);
    for (int64_t i = 0; i < n; ++i) {
      int64_t off = 0;
      for (int k = 0; k < d.ndim; ++k) off += idx[k] * d.strides[k];
      copy_[static_cast<size_t>(i)] = src[off];
      for (int k = d.ndim - 1; k >= 0; --k) {
        if (++idx[k] < d.shape[k]) break;
        idx[k] = 0;
      }
    }
    ptr_ = copy_.data();
  }
  const T* get() const { return ptr_; }

 private:
  const T* ptr_;
  std::vector<T> copy_;
};

void launch_matmul(const Desc& a, const Desc& b, const Desc& out);
void launch_conv(kiln_op op, const Desc& in0, const Desc& in1, const Desc& out, const kiln_conv2d_attrs& attrs);

}  // namespace kiln::blas

#endif  // KILN_BACKENDS_BLAS_COMMON_HPP
