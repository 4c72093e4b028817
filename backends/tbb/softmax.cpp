// SOFTMAX, LOG_SOFTMAX and their backwards over one axis. A row along the axis is either
// contiguous (axis innermost: one vectorized line at a time) or strided by `inner` (then a block
// of up to kBlock neighbouring columns is processed together so the loops vectorize across them).
#include "math.hpp"
#include "ops.hpp"

namespace kiln::tbbk {
namespace {

constexpr int64_t kBlock = 64;

template <class T>
KILN_TBB_CLONES void line_forward(const T* x, T* y, int64_t n, bool log) {
  T m = x[0];
  for (int64_t i = 1; i < n; ++i) m = (x[i] != x[i] || x[i] > m) ? x[i] : m;
  double lanes[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) {
      const T e = exp_t<T>(x[i + j] - m);
      y[i + j] = e;
      lanes[j] += e;
    }
  for (; i < n; ++i) {
    y[i] = exp_t<T>(x[i] - m);
    lanes[0] += y[i];
  }
  double sum = 0;
  for (int j = 0; j < 16; ++j) sum += lanes[j];
  if (log) {
    const T shift = static_cast<T>(m + std::log(sum));
    for (int64_t k = 0; k < n; ++k) y[k] = x[k] - shift;
  } else {
    const T inv = static_cast<T>(1.0 / sum);
    for (int64_t k = 0; k < n; ++k) y[k] *= inv;
  }
}

template <class T>
KILN_TBB_CLONES void line_backward(const T* dy, const T* y, T* dx, int64_t n, bool log) {
  double lanes[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) lanes[j] += log ? dy[i + j] : static_cast<double>(dy[i + j]) * y[i + j];
  for (; i < n; ++i) lanes[0] += log ? dy[i] : static_cast<double>(dy[i]) * y[i];
  double sum = 0;
  for (int j = 0; j < 16; ++j) sum += lanes[j];
  const T s = static_cast<T>(sum);
  if (log) {
    for (int64_t k = 0; k < n; ++k) dx[k] = dy[k] - exp_t<T>(y[k]) * s;
  } else {
    for (int64_t k = 0; k < n; ++k) dx[k] = y[k] * (dy[k] - s);
  }
}

// w columns (w <= kBlock) at distance `inner` between consecutive elements of a column.
template <class T>
KILN_TBB_CLONES void block_forward(const T* x, T* y, int64_t n, int64_t inner, int64_t w, bool log) {
  T m[kBlock];
  double s[kBlock];
  for (int64_t j = 0; j < w; ++j) {
    m[j] = x[j];
    s[j] = 0;
  }
  for (int64_t k = 1; k < n; ++k)
    for (int64_t j = 0; j < w; ++j) {
      const T v = x[k * inner + j];
      m[j] = (v != v || v > m[j]) ? v : m[j];
    }
  for (int64_t k = 0; k < n; ++k)
    for (int64_t j = 0; j < w; ++j) {
      const T e = exp_t<T>(x[k * inner + j] - m[j]);
      y[k * inner + j] = e;
      s[j] += e;
    }
  if (log) {
    for (int64_t j = 0; j < w; ++j) m[j] = static_cast<T>(m[j] + std::log(s[j]));
    for (int64_t k = 0; k < n; ++k)
      for (int64_t j = 0; j < w; ++j) y[k * inner + j] = x[k * inner + j] - m[j];
  } else {
    for (int64_t j = 0; j < w; ++j) m[j] = static_cast<T>(1.0 / s[j]);
    for (int64_t k = 0; k < n; ++k)
      for (int64_t j = 0; j < w; ++j) y[k * inner + j] *= m[j];
  }
}

template <class T>
KILN_TBB_CLONES void block_backward(const T* dy, const T* y, T* dx, int64_t n, int64_t inner, int64_t w, bool log) {
  double s[kBlock] = {};
  for (int64_t k = 0; k < n; ++k)
    for (int64_t j = 0; j < w; ++j) {
      const int64_t at = k * inner + j;
      s[j] += log ? dy[at] : static_cast<double>(dy[at]) * y[at];
    }
  T st[kBlock];
  for (int64_t j = 0; j < w; ++j) st[j] = static_cast<T>(s[j]);
  for (int64_t k = 0; k < n; ++k)
    for (int64_t j = 0; j < w; ++j) {
      const int64_t at = k * inner + j;
      dx[at] = log ? dy[at] - exp_t<T>(y[at]) * st[j] : y[at] * (dy[at] - st[j]);
    }
}

template <class T>
void softmax_typed(kiln_op op, const kiln_tensor_desc* inputs, const kiln_tensor_desc& out, int axis) {
  const int64_t total = numel(out);
  if (total == 0) return;
  int64_t outer = 1, inner = 1;
  const int64_t n = out.shape[axis];
  for (int d = 0; d < axis; ++d) outer *= out.shape[d];
  for (int d = axis + 1; d < out.ndim; ++d) inner *= out.shape[d];
  const bool backward = op == KILN_OP_SOFTMAX_BACKWARD || op == KILN_OP_LOG_SOFTMAX_BACKWARD;
  const bool log = op == KILN_OP_LOG_SOFTMAX || op == KILN_OP_LOG_SOFTMAX_BACKWARD;
  DenseInput a(inputs[0]);
  const T* pa = a.data<T>();
  T* po = base_ptr<T>(out);
  if (backward) {
    DenseInput b(inputs[1]);
    const T* pb = b.data<T>();
    if (inner == 1) {
      parallel_range(outer, std::max<int64_t>(1, kGrainCostly / n), [&](int64_t s, int64_t e) {
        for (int64_t o = s; o < e; ++o) line_backward(pa + o * n, pb + o * n, po + o * n, n, log);
      });
      return;
    }
    const int64_t blocks = (inner + kBlock - 1) / kBlock;
    parallel_range(outer * blocks, std::max<int64_t>(1, kGrainCostly / (n * kBlock)), [&](int64_t s, int64_t e) {
      for (int64_t t = s; t < e; ++t) {
        const int64_t o = t / blocks, j0 = (t % blocks) * kBlock;
        const int64_t at = o * n * inner + j0;
        block_backward(pa + at, pb + at, po + at, n, inner, std::min(kBlock, inner - j0), log);
      }
    });
    return;
  }
  if (inner == 1) {
    parallel_range(outer, std::max<int64_t>(1, kGrainCostly / n), [&](int64_t s, int64_t e) {
      for (int64_t o = s; o < e; ++o) line_forward(pa + o * n, po + o * n, n, log);
    });
    return;
  }
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
  parallel_range(outer * blocks, std::max<int64_t>(1, kGrainCostly / (n * kBlock)), [&](int64_t s, int64_t e) {
    for (int64_t t = s; t < e; ++t) {
      const int64_t o = t / blocks, j0 = (t % blocks) * kBlock;
      const int64_t at = o * n * inner + j0;
      block_forward(pa + at, po + at, n, inner, std::min(kBlock, inner - j0), log);
    }
  });
}

}  // namespace

void launch_softmax(kiln_op op, const kiln_tensor_desc* inputs, const kiln_tensor_desc& out,
                    const kiln_axis_attrs& attrs) {
  if (attrs.axis < 0 || attrs.axis >= out.ndim)
    fail(KILN_STATUS_INVALID_ARGUMENT, "tbb: ", op_name(op), ": axis ", attrs.axis, " out of range for ", out.ndim,
         "-d tensor");
  dispatch_float(out.dtype, [&](auto tag) { softmax_typed<decltype(tag)>(op, inputs, out, attrs.axis); });
}

}  // namespace kiln::tbbk
