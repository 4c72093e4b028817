// Softmax and log-softmax over one axis, and their backward ops, computed line by line in double.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "dtype.hpp"
#include "kernels.hpp"
#include "strided.hpp"

namespace kiln::ref {
namespace {

// Calls fn(lines) once per line along `axis`, where lines[k] is the element offset at which
// operand k's line starts; every operand has the shape of `shape_of`.
template <size_t N, class Fn>
void for_each_line(const kiln_tensor_desc& shape_of, int32_t axis, const std::array<Operand, N>& operands,
                   Fn&& fn) {
  int64_t outer[KILN_MAX_DIMS];
  for (int32_t d = 0; d < shape_of.ndim; ++d) outer[d] = d == axis ? 1 : shape_of.shape[d];
  walk<N>(shape_of.ndim, outer, operands, [&](const int64_t*, const auto& starts) { fn(starts); });
}

// Writes softmax or log-softmax of one line.
void softmax_line(bool log, const std::vector<double>& x, std::vector<double>& y) {
  double m = -std::numeric_limits<double>::infinity();
  for (double v : x)
    m = std::isnan(v) || std::isnan(m) ? std::numeric_limits<double>::quiet_NaN() : std::max(m, v);
  double sum = 0;
  for (double v : x) sum += std::exp(v - m);
  for (size_t i = 0; i < x.size(); ++i) y[i] = log ? x[i] - m - std::log(sum) : std::exp(x[i] - m) / sum;
}

}  // namespace

void run_softmax(kiln_op op, const kiln_tensor_desc* in, const kiln_tensor_desc& out,
                 const kiln_axis_attrs& attrs) {
  const char* name = kiln_op_name(op);
  const bool backward = op == KILN_OP_SOFTMAX_BACKWARD || op == KILN_OP_LOG_SOFTMAX_BACKWARD;
  const bool log = op == KILN_OP_LOG_SOFTMAX || op == KILN_OP_LOG_SOFTMAX_BACKWARD;
  check_same_shape(name, backward ? "dy" : "x", in[0], "out", out);
  if (backward) check_same_shape(name, "y", in[1], "out", out);
  const int32_t axis = attrs.axis;
  if (axis < 0 || axis >= out.ndim)
    fail(KILN_STATUS_INVALID_ARGUMENT, name, ": axis ", axis, " is out of range [0, ", out.ndim,
         ") for shape ", shape_str(out));
  if (numel(out) == 0) return;
  const int64_t length = out.shape[axis];
  dispatch_float(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    View<const T> a(in[0]);
    View<T> o(out);
    const int64_t a_step = in[0].strides[axis], o_step = out.strides[axis];
    std::vector<double> x(static_cast<size_t>(length)), y(x.size());
    if (!backward) {
      for_each_line<2>(out, axis, {operand(in[0]), operand(out)}, [&](const auto& start) {
        for (int64_t i = 0; i < length; ++i) x[static_cast<size_t>(i)] = a.at(start[0] + i * a_step);
        softmax_line(log, x, y);
        for (int64_t i = 0; i < length; ++i)
          o.at(start[1] + i * o_step) = convert<T>(y[static_cast<size_t>(i)]);
      });
      return;
    }
    // softmax:     dx = y * (dy - sum(dy * y))
    // log_softmax: dx = dy - exp(y) * sum(dy)
    View<const T> yv(in[1]);
    const int64_t y_step = in[1].strides[axis];
    for_each_line<3>(out, axis, {operand(in[0]), operand(in[1]), operand(out)}, [&](const auto& start) {
      double sum = 0;
      for (int64_t i = 0; i < length; ++i) {
        const double dy = a.at(start[0] + i * a_step), yi = yv.at(start[1] + i * y_step);
        sum += log ? dy : dy * yi;
      }
      for (int64_t i = 0; i < length; ++i) {
        const double dy = a.at(start[0] + i * a_step), yi = yv.at(start[1] + i * y_step);
        o.at(start[2] + i * o_step) = convert<T>(log ? dy - std::exp(yi) * sum : yi * (dy - sum));
      }
    });
  });
}

}  // namespace kiln::ref
