// Reductions over a set of axes (keepdim output) and arg-reductions over one axis.
// Each output element gathers its input values into a vector, then reduces it: simple and exact
// enough to be the oracle (floats in double, sums compensated).
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "dtype.hpp"
#include "kernels.hpp"
#include "strided.hpp"

namespace kiln::ref {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Checks axes and the keepdim output shape; returns the mask of reduced dims.
std::array<bool, KILN_MAX_DIMS> check_reduce(const char* op, const kiln_tensor_desc& x,
                                             const kiln_tensor_desc& out, const kiln_reduce_attrs& attrs) {
  if (attrs.num_axes < 1 || attrs.num_axes > x.ndim)
    fail(KILN_STATUS_INVALID_ARGUMENT, op, ": expected 1..", x.ndim, " axes for input of shape ",
         shape_str(x), ", got ", attrs.num_axes);
  std::array<bool, KILN_MAX_DIMS> reduced{};
  for (int32_t i = 0; i < attrs.num_axes; ++i) {
    const int32_t axis = attrs.axes[i];
    if (axis < 0 || axis >= x.ndim || reduced[axis])
      fail(KILN_STATUS_INVALID_ARGUMENT, op, ": axis ", axis, " is out of range [0, ", x.ndim,
           ") or repeated");
    reduced[axis] = true;
  }
  bool ok = out.ndim == x.ndim;
  for (int32_t d = 0; ok && d < x.ndim; ++d) ok = out.shape[d] == (reduced[d] ? 1 : x.shape[d]);
  if (!ok)
    fail(KILN_STATUS_INVALID_ARGUMENT, op, ": expected output of keepdim shape for input ", shape_str(x),
         ", got ", shape_str(out));
  return reduced;
}

// Calls fn(out_offset, values) for every output element, values being the input elements that reduce
// into it, in row-major order of the reduced axes, converted to acc_t<T>.
template <class T, class Fn>
void for_each_slice(const kiln_tensor_desc& x, const kiln_tensor_desc& out,
                    const std::array<bool, KILN_MAX_DIMS>& reduced, Fn&& fn) {
  int64_t inner_shape[KILN_MAX_DIMS];
  for (int32_t d = 0; d < x.ndim; ++d) inner_shape[d] = reduced[d] ? x.shape[d] : 1;
  View<const T> xv(x);
  std::vector<acc_t<T>> values;
  // out has x's shape with reduced extents 1, so walking it with x's strides visits each slice origin.
  walk<2>(out.ndim, out.shape, {operand(x), operand(out)}, [&](const int64_t*, const auto& outer) {
    values.clear();
    walk<1>(x.ndim, inner_shape, {Operand{outer[0], x.strides}}, [&](const int64_t*, const auto& inner) {
      values.push_back(static_cast<acc_t<T>>(xv.at(inner[0])));
    });
    fn(outer[1], values);
  });
}

// Neumaier-compensated sum; falls back to the plain sum when it is not finite (inf - inf in the
// compensation would turn a correct inf into NaN).
double precise_sum(const std::vector<double>& v) {
  double sum = 0, compensation = 0, plain = 0;
  for (double x : v) {
    plain += x;
    const double t = sum + x;
    compensation += std::fabs(sum) >= std::fabs(x) ? (sum - t) + x : (x - t) + sum;
    sum = t;
  }
  return std::isfinite(plain) ? sum + compensation : plain;
}

double float_reduce(kiln_op op, const std::vector<double>& v, double correction) {
  const double n = static_cast<double>(v.size());
  switch (op) {
    case KILN_OP_SUM:
      return precise_sum(v);
    case KILN_OP_MEAN:
      return v.empty() ? kNaN : precise_sum(v) / n;
    case KILN_OP_PROD: {
      double p = 1;
      for (double x : v) p *= x;
      return p;
    }
    case KILN_OP_MAX:
    case KILN_OP_MIN: {  // NaN propagates; empty slices were refused earlier
      double m = v[0];
      for (double x : v) {
        if (std::isnan(x)) return x;
        m = op == KILN_OP_MAX ? std::max(m, x) : std::min(m, x);
      }
      return m;
    }
    case KILN_OP_LOGSUMEXP: {
      double m = -kInf;
      for (double x : v) {
        if (std::isnan(x)) return x;
        m = std::max(m, x);
      }
      if (std::isinf(m)) return m;  // empty or all -inf: -inf; any +inf: +inf
      std::vector<double> e;
      e.reserve(v.size());
      for (double x : v) e.push_back(std::exp(x - m));
      return m + std::log(precise_sum(e));
    }
    case KILN_OP_VAR: {  // sum((x - mean)^2) / max(0, n - correction), as PyTorch
      if (v.empty()) return kNaN;
      const double mean = precise_sum(v) / n;
      std::vector<double> sq;
      sq.reserve(v.size());
      for (double x : v) sq.push_back((x - mean) * (x - mean));
      return precise_sum(sq) / std::max(0.0, n - correction);
    }
    default:
      fail(KILN_STATUS_INTERNAL, "ref: op ", kiln_op_name(op), " reached the float reduction kernel");
  }
}

template <class T>
T int_reduce(kiln_op op, const std::vector<T>& v) {
  T r = op == KILN_OP_PROD ? T{1} : T{0};
  switch (op) {
    case KILN_OP_SUM:
      for (T x : v) r = wrap_add(r, x);
      return r;
    case KILN_OP_PROD:
      for (T x : v) r = wrap_mul(r, x);
      return r;
    case KILN_OP_MAX:
      r = v[0];
      for (T x : v) r = std::max(r, x);
      return r;
    case KILN_OP_MIN:
      r = v[0];
      for (T x : v) r = std::min(r, x);
      return r;
    default:
      fail(KILN_STATUS_INTERNAL, "ref: op ", kiln_op_name(op), " reached the integer reduction kernel");
  }
}

// The first reduced axis of extent 0, or -1 when every slice has elements.
int32_t empty_reduced_axis(const kiln_tensor_desc& x, const std::array<bool, KILN_MAX_DIMS>& reduced) {
  for (int32_t d = 0; d < x.ndim; ++d)
    if (reduced[d] && x.shape[d] == 0) return d;
  return -1;
}

}  // namespace

void run_reduce(kiln_op op, const kiln_tensor_desc& x, const kiln_tensor_desc& out,
                const kiln_reduce_attrs& attrs) {
  const char* name = kiln_op_name(op);
  const auto reduced = check_reduce(name, x, out, attrs);
  const int32_t empty_axis = empty_reduced_axis(x, reduced);
  if (empty_axis >= 0 && numel(out) > 0 && (op == KILN_OP_MAX || op == KILN_OP_MIN))
    fail(KILN_STATUS_INVALID_ARGUMENT, name, ": cannot reduce over an empty axis (axis ", empty_axis,
         " of input shape ", shape_str(x), " has extent 0); expected a non-empty reduction");
  dispatch_numeric(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    View<T> ov(out);
    for_each_slice<T>(x, out, reduced, [&](int64_t out_off, const std::vector<acc_t<T>>& values) {
      if constexpr (is_float_v<T>) {
        ov.at(out_off) = convert<T>(float_reduce(op, values, attrs.correction));
      } else {
        ov.at(out_off) = int_reduce<T>(op, values);
      }
    });
  });
}

void run_argreduce(kiln_op op, const kiln_tensor_desc& x, const kiln_tensor_desc& out,
                   const kiln_reduce_attrs& attrs) {
  const char* name = kiln_op_name(op);
  if (attrs.num_axes != 1)
    fail(KILN_STATUS_INVALID_ARGUMENT, name, ": expected exactly 1 axis, got ", attrs.num_axes);
  const auto reduced = check_reduce(name, x, out, attrs);
  const int32_t axis = attrs.axes[0];
  if (x.shape[axis] == 0 && numel(out) > 0)
    fail(KILN_STATUS_INVALID_ARGUMENT, name, ": cannot reduce over an empty axis (axis ", axis,
         " of input shape ", shape_str(x), " has extent 0); expected a non-empty reduction");
  const bool is_max = op == KILN_OP_ARGMAX;
  dispatch_numeric(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    View<int64_t> ov(out);
    for_each_slice<T>(x, out, reduced, [&](int64_t out_off, const std::vector<acc_t<T>>& values) {
      int64_t best = 0;  // first occurrence wins; the first NaN beats everything
      for (size_t i = 1; i < values.size(); ++i) {
        const auto cur = values[i], top = values[static_cast<size_t>(best)];
        if constexpr (is_float_v<T>) {
          if (std::isnan(top)) break;
          if (std::isnan(cur)) {
            best = static_cast<int64_t>(i);
            break;
          }
        }
        if (is_max ? cur > top : cur < top) best = static_cast<int64_t>(i);
      }
      ov.at(out_off) = best;
    });
  });
}

}  // namespace kiln::ref
