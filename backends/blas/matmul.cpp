// MATMUL through cblas_sgemm / cblas_dgemm, one call per batch entry. An operand whose strides
// describe a row-major or column-major matrix is passed as is (NoTrans / Trans with its leading
// dimension); any other layout (broadcast rows, gaps in both dims) is packed first.
#include "common.hpp"

namespace kiln::blas {
namespace {

struct Operand {
  CBLAS_TRANSPOSE trans = CblasNoTrans;
  int64_t ld = 0;
  bool pack = false;
};

// How a rows x cols matrix with strides (rs, cs) maps onto BLAS.
Operand classify(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  Operand o;
  const int64_t max_ld = std::numeric_limits<blasint>::max();
  if ((cols == 1 || cs == 1) && (rows == 1 || (rs >= std::max<int64_t>(cols, 1) && rs <= max_ld))) {
    o.ld = rows == 1 ? std::max<int64_t>(cols, 1) : rs;
    return o;
  }
  if ((rows == 1 || rs == 1) && (cols == 1 || (cs >= std::max<int64_t>(rows, 1) && cs <= max_ld))) {
    o.trans = CblasTrans;
    o.ld = cols == 1 ? std::max<int64_t>(rows, 1) : cs;
    return o;
  }
  o.pack = true;
  o.ld = std::max<int64_t>(cols, 1);
  return o;
}

template <class T>
const T* prepare(const T* src, int64_t rows, int64_t cols, int64_t rs, int64_t cs, const Operand& o, std::vector<T>& buf) {
  if (!o.pack) return src;
  buf.resize(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) buf[static_cast<size_t>(i * cols + j)] = src[i * rs + j * cs];
  return buf.data();
}

template <class T>
void matmul(const Desc& a, const Desc& b, const Desc& out) {
  const int64_t batch = out.shape[0], M = out.shape[1], N = out.shape[2], K = a.shape[2];
  T* po = base_ptr<T>(out);
  if (K == 0) {
    std::fill(po, po + batch * M * N, T(0));
    return;
  }
  const blasint m = to_blasint(M, KILN_OP_MATMUL), n = to_blasint(N, KILN_OP_MATMUL), k = to_blasint(K, KILN_OP_MATMUL);
  const Operand oa = classify(M, K, a.strides[1], a.strides[2]);
  const Operand ob = classify(K, N, b.strides[1], b.strides[2]);
  std::vector<T> abuf, bbuf;
  for (int64_t i = 0; i < batch; ++i) {
    const T* pa = prepare(base_ptr<const T>(a) + i * a.strides[0], M, K, a.strides[1], a.strides[2], oa, abuf);
    const T* pb = prepare(base_ptr<const T>(b) + i * b.strides[0], K, N, b.strides[1], b.strides[2], ob, bbuf);
    gemm(oa.trans, ob.trans, m, n, k, pa, static_cast<blasint>(oa.ld), pb, static_cast<blasint>(ob.ld), T(0),
         po + i * M * N, n);
  }
}

}  // namespace

void launch_matmul(const Desc& a, const Desc& b, const Desc& out) {
  if (a.ndim != 3 || b.ndim != 3 || out.ndim != 3 || a.shape[0] != out.shape[0] || b.shape[0] != out.shape[0] ||
      a.shape[1] != out.shape[1] || b.shape[2] != out.shape[2] || a.shape[2] != b.shape[1])
    fail(KILN_STATUS_INVALID_ARGUMENT, "blas: matmul expects a [B, M, K], b [B, K, N], out [B, M, N] with matching "
         "extents");
  if (numel(out) == 0) return;
  if (out.dtype == KILN_DTYPE_FLOAT32) matmul<float>(a, b, out);
  else matmul<double>(a, b, out);
}

}  // namespace kiln::blas
