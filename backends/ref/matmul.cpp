// Batched matmul a [B, M, K] x b [B, K, N] -> out [B, M, N], any strides. Floats accumulate in double.
#include "dtype.hpp"
#include "kernels.hpp"
#include "strided.hpp"

namespace kiln::ref {

void run_matmul(const kiln_tensor_desc& a, const kiln_tensor_desc& b, const kiln_tensor_desc& out) {
  check_ndim("matmul", "a [B, M, K]", a, 3);
  check_ndim("matmul", "b [B, K, N]", b, 3);
  check_ndim("matmul", "out [B, M, N]", out, 3);
  const int64_t batch = out.shape[0], m = out.shape[1], n = out.shape[2], k = a.shape[2];
  if (a.shape[0] != batch || b.shape[0] != batch || a.shape[1] != m || b.shape[1] != k || b.shape[2] != n)
    fail(KILN_STATUS_INVALID_ARGUMENT, "matmul: expected a [B, M, K], b [B, K, N], out [B, M, N], got a ",
         shape_str(a), ", b ", shape_str(b), ", out ", shape_str(out));
  dispatch_numeric(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    View<const T> av(a), bv(b);
    View<T> ov(out);
    for (int64_t p = 0; p < batch; ++p)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          acc_t<T> sum{0};
          for (int64_t q = 0; q < k; ++q) sum = wrap_add(sum, wrap_mul<acc_t<T>>(av(p, i, q), bv(p, q, j)));
          ov(p, i, j) = convert<T>(sum);
        }
  });
}

}  // namespace kiln::ref
