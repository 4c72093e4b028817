// MATMUL: a [B, M, K] x b [B, K, N] -> out [B, M, N]. Floats run the packed GEMM (gemm.cpp);
// integers a plain i-k-j loop with wrapping arithmetic.
#include "gemm.hpp"
#include "ops.hpp"

namespace kiln::tbbk {
namespace {

template <class T>
void matmul_float(const Desc& a, const Desc& b, const Desc& out) {
  const int64_t batch = out.shape[0], M = out.shape[1], N = out.shape[2], K = a.shape[2];
  const T* pa = base_ptr<const T>(a);
  const T* pb = base_ptr<const T>(b);
  T* po = base_ptr<T>(out);
  auto one = [&](int64_t i, bool parallel) {
    gemm<T>(M, N, K, pa + i * a.strides[0], a.strides[1], a.strides[2], pb + i * b.strides[0], b.strides[1],
            b.strides[2], po + i * M * N, N, false, parallel);
  };
  const double work = static_cast<double>(M) * N * K;
  if (batch > 1 && work < 4.0e6 && num_threads() > 1) {
    // many small products: one serial GEMM per task
    const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(262144.0 / std::max(work, 1.0)));
    parallel_range(batch, grain, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) one(i, false);
    });
    return;
  }
  for (int64_t i = 0; i < batch; ++i) one(i, true);
}

template <class T>
void matmul_int(const Desc& a, const Desc& b, const Desc& out) {
  const int64_t batch = out.shape[0], M = out.shape[1], N = out.shape[2], K = a.shape[2];
  const T* pa = base_ptr<const T>(a);
  const T* pb = base_ptr<const T>(b);
  T* po = base_ptr<T>(out);
  parallel_range(batch * M, std::max<int64_t>(1, kGrainCheap / std::max<int64_t>(1, N * K)), [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r) {
      const int64_t bi = r / M, i = r % M;
      T* row = po + r * N;
      for (int64_t j = 0; j < N; ++j) row[j] = T(0);
      const T* arow = pa + bi * a.strides[0] + i * a.strides[1];
      const T* bmat = pb + bi * b.strides[0];
      for (int64_t k = 0; k < K; ++k) {
        const T av = arow[k * a.strides[2]];
        const T* brow = bmat + k * b.strides[1];
        for (int64_t j = 0; j < N; ++j) row[j] = wrap_add(row[j], wrap_mul(av, brow[j * b.strides[2]]));
      }
    }
  });
}

}  // namespace

void launch_matmul(const Desc& a, const Desc& b, const Desc& out) {
  if (a.ndim != 3 || b.ndim != 3 || out.ndim != 3 || a.shape[0] != out.shape[0] || b.shape[0] != out.shape[0] ||
      a.shape[1] != out.shape[1] || b.shape[2] != out.shape[2] || a.shape[2] != b.shape[1])
    fail(KILN_STATUS_INVALID_ARGUMENT, "tbb: matmul expects a [B, M, K], b [B, K, N], out [B, M, N]; got a ",
         a.ndim, "-d, b ", b.ndim, "-d, out ", out.ndim, "-d with mismatched extents");
  if (numel(out) == 0) return;
  if (is_float_dtype(out.dtype)) {
    dispatch_float(out.dtype, [&](auto tag) { matmul_float<decltype(tag)>(a, b, out); });
  } else {
    dispatch_numeric(out.dtype, [&](auto tag) {
      if constexpr (is_int_v<decltype(tag)>) matmul_int<decltype(tag)>(a, b, out);
    });
  }
}

}  // namespace kiln::tbbk
