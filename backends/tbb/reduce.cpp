// Reductions (SUM MEAN PROD MAX MIN LOGSUMEXP VAR) and ARGMAX/ARGMIN.
//
// Note [Deterministic reductions]: an output whose reduced extent is long is summed in fixed-size
// chunks in parallel and the chunk results are combined in order; whether a reduction is chunked
// depends only on the shapes, never on the thread count, so every run gives the same bits.
// Float inputs accumulate in double (16 independent lanes, so the inner loops vectorize).
#include "math.hpp"
#include "ops.hpp"
#include "common.hpp"

namespace kiln::tbbk {
namespace {

constexpr int kLanes = 16;
constexpr int64_t kChunk = 32768;  // reduced elements per parallel chunk

template <class T>
struct SumOp {
  using A = acc_t<T>;
  A init() const { return A{0}; }
  A step(A acc, T x) const { return wrap_add(acc, static_cast<A>(x)); }
  A combine(A x, A y) const { return wrap_add(x, y); }
};
template <class T>
struct ProdOp {
  using A = acc_t<T>;
  A init() const { return A{1}; }
  A step(A acc, T x) const { return wrap_mul(acc, static_cast<A>(x)); }
  A combine(A x, A y) const { return wrap_mul(x, y); }
};
template <class T, bool kMax>
struct ExtremumOp {  // NaN propagates; init is only used on non-empty input
  using A = T;
  T first;
  A init() const { return first; }
  A step(A acc, T x) const {
    if constexpr (kMax) return (x != x || x > acc) ? x : acc;
    else return (x != x || x < acc) ? x : acc;
  }
  A combine(A x, A y) const { return step(x, y); }
};
template <class T>
struct SumExpOp {  // sum exp(x - max), for logsumexp
  using A = double;
  T max;
  A init() const { return 0.0; }
  A step(A acc, T x) const { return acc + static_cast<double>(exp_t<T>(x - max)); }
  A combine(A x, A y) const { return x + y; }
};
template <class T>
struct SqDevOp {  // sum (x - mean)^2, for var
  using A = double;
  double mean;
  A init() const { return 0.0; }
  A step(A acc, T x) const {
    double d = static_cast<double>(x) - mean;
    return acc + d * d;
  }
  A combine(A x, A y) const { return x + y; }
};

// One inner run: kLanes independent accumulators over unit-stride data, then a fixed-order combine.
template <class T, class Op>
KILN_TBB_CLONES typename Op::A reduce_run(const T* p, int64_t stride, int64_t n, Op op) {
  using A = typename Op::A;
  A acc = op.init();
  int64_t i = 0;
  if (stride == 1 && n >= 2 * kLanes) {
    A lanes[kLanes];
    for (int j = 0; j < kLanes; ++j) lanes[j] = op.init();
    for (; i + kLanes <= n; i += kLanes)
      for (int j = 0; j < kLanes; ++j) lanes[j] = op.step(lanes[j], p[i + j]);
    for (int w = kLanes / 2; w > 0; w /= 2)
      for (int j = 0; j < w; ++j) lanes[j] = op.combine(lanes[j], lanes[j + w]);
    acc = lanes[0];
  }
  for (; i < n; ++i) acc = op.step(acc, p[i * stride]);
  return acc;
}

// The reduction split into kept dims (output order) and reduced dims, each collapsed.
struct Plan {
  int nk = 0, nr = 0;
  int64_t kshape[KILN_MAX_DIMS], kstride[KILN_MAX_DIMS];
  Layout region;  // one operand: the reduced dims of the input
  int64_t outputs = 1, length = 1;
};

Plan make_plan(const kiln_tensor_desc& x, const kiln_reduce_attrs& attrs) {
  bool reduced[KILN_MAX_DIMS] = {};
  for (int i = 0; i < attrs.num_axes; ++i) reduced[attrs.axes[i]] = true;
  Plan p;
  kiln_tensor_desc r{};  // the reduced dims as a pseudo tensor for the layout engine
  r.ndim = 0;
  for (int d = 0; d < x.ndim; ++d) {
    if (reduced[d]) {
      r.shape[r.ndim] = x.shape[d];
      r.strides[r.ndim++] = x.strides[d];
      p.length *= x.shape[d];
    } else {
      p.kshape[p.nk] = x.shape[d];
      p.kstride[p.nk++] = x.strides[d];
      p.outputs *= x.shape[d];
    }
  }
  const kiln_tensor_desc* descs[] = {&r};
  p.region = make_layout(descs, 1);
  return p;
}

int64_t input_offset(const Plan& p, int64_t m) {
  int64_t off = 0;
  for (int d = p.nk - 1; d >= 0; --d) {
    off += (m % p.kshape[d]) * p.kstride[d];
    m /= p.kshape[d];
  }
  return off;
}

template <class T, class Op>
typename Op::A reduce_span(const Plan& p, const T* base, int64_t begin, int64_t end, const Op& op) {
  typename Op::A acc = op.init();
  const int64_t stride = p.region.strides[0][p.region.ndim - 1];
  for_each_run(p.region, begin, end, [&](const int64_t* off, int64_t count) {
    acc = op.combine(acc, reduce_run(base + off[0], stride, count, op));
  });
  return acc;
}

// The reduced value of one output (base points at its first input element).
template <class T, class Op>
typename Op::A reduce_one(const Plan& p, const T* base, const Op& op, bool may_split) {
  if (!may_split || p.length <= 2 * kChunk) return reduce_span(p, base, 0, p.length, op);
  const int64_t chunks = (p.length + kChunk - 1) / kChunk;
  std::vector<typename Op::A> partial(static_cast<size_t>(chunks));
  parallel_chunks(chunks, [&](int64_t c) {
    partial[c] = reduce_span(p, base, c * kChunk, std::min(p.length, (c + 1) * kChunk), op);
  });
  typename Op::A acc = op.init();
  for (auto v : partial) acc = op.combine(acc, v);
  return acc;
}

// out[m] = finish(m, base_m) for every output, parallel over outputs when there are many of them;
// with few outputs each one splits its reduction instead (see the Note).
template <class T, class Finish>
void for_each_output(const Plan& p, const T* x, Finish finish) {
  const bool split = p.outputs < 4;
  const int64_t grain = std::max<int64_t>(1, kGrainCheap / std::max<int64_t>(1, p.length));
  if (split) {
    for (int64_t m = 0; m < p.outputs; ++m) finish(m, x + input_offset(p, m), true);
    return;
  }
  parallel_range(p.outputs, grain, [&](int64_t b, int64_t e) {
    for (int64_t m = b; m < e; ++m) finish(m, x + input_offset(p, m), false);
  });
}

// Column path for SUM and MEAN when the innermost kept dim is the input's unit-stride dim
// (sum over the batch of [N, D], bias gradients): each task owns a block of output columns and
// adds whole input rows into a vector of accumulators, instead of walking each column with a
// large stride.
constexpr int64_t kColBlock = 256;

template <class T>
KILN_TBB_CLONES void add_row(acc_t<T>* __restrict acc, const T* __restrict row, int64_t n) {
  for (int64_t j = 0; j < n; ++j) acc[j] = wrap_add(acc[j], static_cast<acc_t<T>>(row[j]));
}

template <class T>
bool column_sum(const Plan& p, const T* x, T* out, bool mean) {
  if (p.nk == 0 || p.kstride[p.nk - 1] != 1 || p.kshape[p.nk - 1] < 16 || p.length < 2) return false;
  const int64_t D = p.kshape[p.nk - 1], outer = p.outputs / D;
  const int64_t blocks = (D + kColBlock - 1) / kColBlock;
  const int64_t rstride = p.region.strides[0][p.region.ndim - 1];
  const int64_t grain = std::max<int64_t>(1, kGrainCheap / (p.length * kColBlock));
  parallel_range(outer * blocks, grain, [&](int64_t s, int64_t e) {
    acc_t<T> acc[kColBlock];
    for (int64_t t = s; t < e; ++t) {
      const int64_t q = t / blocks, j0 = (t % blocks) * kColBlock, w = std::min(kColBlock, D - j0);
      const T* base = x + input_offset(p, q * D) + j0;
      std::fill(acc, acc + w, acc_t<T>(0));
      for_each_run(p.region, 0, p.length, [&](const int64_t* off, int64_t count) {
        for (int64_t r = 0; r < count; ++r) add_row<T>(acc, base + off[0] + r * rstride, w);
      });
      T* o = out + q * D + j0;
      for (int64_t j = 0; j < w; ++j) {
        if constexpr (is_float_v<T>) {
          o[j] = convert<T>(mean ? acc[j] / static_cast<double>(p.length) : acc[j]);
        } else {
          o[j] = acc[j];
        }
      }
    }
  });
  return true;
}

template <class T>
void reduce_typed(kiln_op op, const kiln_tensor_desc& xd, const kiln_tensor_desc& od, const kiln_reduce_attrs& attrs) {
  const Plan p = make_plan(xd, attrs);
  if (p.outputs == 0) return;
  const T* x = base_ptr<const T>(xd);
  T* out = base_ptr<T>(od);
  const int64_t n = p.length;
  if (n == 0 && (op == KILN_OP_MAX || op == KILN_OP_MIN))
    fail(KILN_STATUS_INVALID_ARGUMENT, "tbb: ", op_name(op), ": reduction over an empty dimension has no identity");
  if ((op == KILN_OP_SUM || (op == KILN_OP_MEAN && is_float_v<T>)) && column_sum(p, x, out, op == KILN_OP_MEAN))
    return;
  switch (op) {
    case KILN_OP_SUM:
      return for_each_output(p, x, [&](int64_t m, const T* b, bool s) {
        out[m] = convert<T>(reduce_one(p, b, SumOp<T>{}, s));
      });
    case KILN_OP_PROD:
      return for_each_output(p, x, [&](int64_t m, const T* b, bool s) {
        out[m] = convert<T>(reduce_one(p, b, ProdOp<T>{}, s));
      });
    case KILN_OP_MAX:
      return for_each_output(p, x, [&](int64_t m, const T* b, bool s) {
        out[m] = reduce_one(p, b, ExtremumOp<T, true>{b[0]}, s);
      });
    case KILN_OP_MIN:
      return for_each_output(p, x, [&](int64_t m, const T* b, bool s) {
        out[m] = reduce_one(p, b, ExtremumOp<T, false>{b[0]}, s);
      });
    default: break;
  }
  if constexpr (is_float_v<T>) {
    constexpr T kNaN = std::numeric_limits<T>::quiet_NaN();
    switch (op) {
      case KILN_OP_MEAN:
        return for_each_output(p, x, [&](int64_t m, const T* b, bool s) {
          out[m] = n == 0 ? kNaN : convert<T>(reduce_one(p, b, SumOp<T>{}, s) / static_cast<double>(n));
        });
      case KILN_OP_VAR:
        return for_each_output(p, x, [&](int64_t m, const T* b, bool s) {
          if (n == 0) {
            out[m] = kNaN;
            return;
          }
          const double mean = reduce_one(p, b, SumOp<T>{}, s) / static_cast<double>(n);
          const double ss = reduce_one(p, b, SqDevOp<T>{mean}, s);
          out[m] = convert<T>(ss / (static_cast<double>(n) - attrs.correction));
        });
      case KILN_OP_LOGSUMEXP:
        return for_each_output(p, x, [&](int64_t m, const T* b, bool s) {
          if (n == 0) {
            out[m] = -std::numeric_limits<T>::infinity();
            return;
          }
          const T mx = reduce_one(p, b, ExtremumOp<T, true>{b[0]}, s);
          if (mx != mx || std::isinf(mx)) {
            out[m] = mx;  // NaN, all -inf, or +inf somewhere
            return;
          }
          const double se = reduce_one(p, b, SumExpOp<T>{mx}, s);
          out[m] = convert<T>(static_cast<double>(mx) + std::log(se));
        });
      default: break;
    }
  }
  fail(KILN_STATUS_UNSUPPORTED, "tbb: ", op_name(op), " is not supported for this dtype");
}

template <class T, bool kMax>
KILN_TBB_CLONES int64_t arg_run(const T* p, int64_t stride, int64_t n) {
  T best = p[0];
  int64_t at = 0;
  if (best != best) return 0;
  for (int64_t i = 1; i < n; ++i) {
    const T v = p[i * stride];
    if (v != v) return i;  // the first NaN wins
    if (kMax ? v > best : v < best) {
      best = v;
      at = i;
    }
  }
  return at;
}

template <class T>
void argreduce_typed(kiln_op op, const kiln_tensor_desc& xd, const kiln_tensor_desc& od, const kiln_reduce_attrs& attrs) {
  kiln_reduce_attrs one = attrs;
  one.num_axes = 1;
  const Plan p = make_plan(xd, one);
  if (p.length == 0)
    fail(KILN_STATUS_INVALID_ARGUMENT, "tbb: ", op_name(op), ": reduction over an empty dimension (axis ",
         attrs.axes[0], ") has no ", op == KILN_OP_ARGMAX ? "maximum" : "minimum");
  const T* x = base_ptr<const T>(xd);
  int64_t* out = base_ptr<int64_t>(od);
  const int64_t stride = xd.strides[attrs.axes[0]], n = p.length;
  const bool is_max = op == KILN_OP_ARGMAX;
  const int64_t grain = std::max<int64_t>(1, kGrainCheap / n);
  parallel_range(p.outputs, grain, [&](int64_t b, int64_t e) {
    for (int64_t m = b; m < e; ++m) {
      const T* row = x + input_offset(p, m);
      out[m] = is_max ? arg_run<T, true>(row, stride, n) : arg_run<T, false>(row, stride, n);
    }
  });
}

}  // namespace

void launch_reduce(kiln_op op, const kiln_tensor_desc& x, const kiln_tensor_desc& out, const kiln_reduce_attrs& attrs) {
  dispatch_numeric(x.dtype, [&](auto tag) { reduce_typed<decltype(tag)>(op, x, out, attrs); });
}

void launch_argreduce(kiln_op op, const kiln_tensor_desc& x, const kiln_tensor_desc& out,
                      const kiln_reduce_attrs& attrs) {
  dispatch_numeric(x.dtype, [&](auto tag) { argreduce_typed<decltype(tag)>(op, x, out, attrs); });
}

}  // namespace kiln::tbbk
