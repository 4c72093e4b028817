// Conformance cases of REDUCE, ARGREDUCE and SOFTMAX: one and several axes, views, long
// reductions (scaled tolerances), empty inputs and the errors an empty max/min must raise.
#include <cmath>
#include <limits>

#include "harness.hpp"

namespace kiln::conformance {

namespace {

struct Spec {
  Shape shape;
  Layout layout;
  std::vector<int32_t> axes;
};

Shape keep_shape(const Shape& s, const std::vector<int32_t>& axes) {
  Shape out = s;
  for (auto a : axes) out[a] = 1;
  return out;
}

int64_t reduced_count(const Shape& s, const std::vector<int32_t>& axes) {
  int64_t n = 1;
  for (auto a : axes) n *= s[a];
  return n;
}

std::string axes_label(const std::vector<int32_t>& axes) {
  std::string s = "axes{";
  for (size_t i = 0; i < axes.size(); ++i) s += (i ? "," : "") + std::to_string(axes[i]);
  return s + "}";
}

kiln_reduce_attrs reduce_attrs(const std::vector<int32_t>& axes, double correction) {
  kiln_reduce_attrs a = kiln_reduce_attrs_init();
  a.num_axes = static_cast<int32_t>(axes.size());
  for (size_t i = 0; i < axes.size(); ++i) a.axes[i] = axes[i];
  a.correction = correction;
  return a;
}

bool is_extreme(kiln_op op) { return op == KILN_OP_MAX || op == KILN_OP_MIN; }

std::vector<Case> reduce(kiln_op op, DType dtype, const Context& ctx, Rng& rng) {
  static const std::vector<Spec> specs = {
      {{7}, Layout::Contiguous, {0}},           {{3, 5}, Layout::Contiguous, {1}},
      {{3, 5}, Layout::Contiguous, {0}},        {{3, 5}, Layout::Transposed, {0, 1}},
      {{2, 3, 4}, Layout::Contiguous, {1}},     {{2, 3, 4}, Layout::Permuted, {0, 2}},
      {{2, 3, 4}, Layout::Stepped, {0, 1, 2}},  {{4, 5}, Layout::Broadcast, {0}},
      {{1}, Layout::Contiguous, {0}},           {{2, 3, 2, 5}, Layout::Permuted, {1, 3}},
      {{3, 1000}, Layout::Contiguous, {1}},     {{1000, 3}, Layout::Offset, {0}},
      {{0, 3}, Layout::Contiguous, {0}},        {{0, 3}, Layout::Contiguous, {1}},
  };
  const Domain domain = op == KILN_OP_PROD ? Domain::NearOne : Domain::General;
  std::vector<double> corrections = {0.0};
  if (op == KILN_OP_VAR) corrections = {1.0, 0.0};
  std::vector<Case> cases;
  for (double correction : corrections) {
    for (const Spec& s : specs) {
      Case c;
      c.name = (op == KILN_OP_VAR ? "correction=" + std::to_string(static_cast<int>(correction)) + ":" : std::string()) +
               layout_name(s.layout) + shape_label(s.shape) + axes_label(s.axes);
      c.dtype = std::string(dtype_name(dtype));
      c.inputs = {make_input(ctx, rng, s.shape, dtype, domain, s.layout)};
      const Shape out = keep_shape(s.shape, s.axes);
      c.outputs = {make_output(ctx, out, dtype)};
      c.attrs = make_attrs(reduce_attrs(s.axes, correction));
      const int64_t n = reduced_count(s.shape, s.axes);
      // An empty max/min reduction has no identity: both backends must refuse it.
      c.expect_error = is_extreme(op) && n == 0 && out.numel() > 0;
      set_tolerance(c, dtype, n);
      cases.push_back(std::move(c));
    }
  }
  if (is_floating(dtype) && op != KILN_OP_PROD) {
    // NaN and infinities: max/min propagate NaN; sums of inf are inf; logsumexp of -inf rows is -inf.
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    Case c;
    c.name = "nan_inf[3,4]axes{1}";
    c.dtype = std::string(dtype_name(dtype));
    c.inputs = {host_tensor(ctx, {3, 4}, dtype, {1, nan, 2, 3, -inf, -inf, -inf, -inf, 1, inf, -2, 0.5})};
    c.outputs = {make_output(ctx, {3, 1}, dtype)};
    c.attrs = make_attrs(reduce_attrs({1}, 1.0));
    set_tolerance(c, dtype, 4);
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<Case> argreduce(kiln_op op, DType dtype, const Context& ctx, Rng& rng) {
  (void)op;
  struct ArgSpec {
    Shape shape;
    Layout layout;
    int32_t axis;
    Domain domain;
  };
  static const std::vector<ArgSpec> specs = {
      {{7}, Layout::Contiguous, 0, Domain::General},        {{3, 5}, Layout::Contiguous, 1, Domain::General},
      {{3, 5}, Layout::Transposed, 0, Domain::General},     {{2, 3, 4}, Layout::Permuted, 1, Domain::General},
      {{2, 3, 4}, Layout::Stepped, 2, Domain::General},     {{4, 5}, Layout::Broadcast, 0, Domain::General},
      {{5, 6}, Layout::Contiguous, 1, Domain::SmallInt},    {{6, 5}, Layout::Transposed, 0, Domain::SmallInt},
      {{3, 1000}, Layout::Contiguous, 1, Domain::General},  {{1}, Layout::Contiguous, 0, Domain::General},
      {{0, 3}, Layout::Contiguous, 0, Domain::General},     {{0, 3}, Layout::Contiguous, 1, Domain::General},
  };
  std::vector<Case> cases;
  auto add = [&](std::string name, Tensor x, int32_t axis, bool expect_error) {
    Case c;
    c.name = std::move(name);
    c.dtype = std::string(dtype_name(dtype));
    c.outputs = {make_output(ctx, keep_shape(x.shape(), {axis}), DType::Int64)};
    c.inputs = {std::move(x)};
    c.attrs = make_attrs(reduce_attrs({axis}, 0));
    c.expect_error = expect_error;
    cases.push_back(std::move(c));  // indices: exact
  };
  for (const ArgSpec& s : specs) {
    const bool empty_axis = s.shape[s.axis] == 0 && keep_shape(s.shape, {s.axis}).numel() > 0;
    add((s.domain == Domain::SmallInt ? "ties:" : "") + std::string(layout_name(s.layout)) + shape_label(s.shape) +
            axes_label({s.axis}),
        make_input(ctx, rng, s.shape, dtype, s.domain, s.layout), s.axis, empty_axis);
  }
  if (is_floating(dtype)) {
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    add("nan_inf[3,4]axes{1}", host_tensor(ctx, {3, 4}, dtype, {1, nan, 2, nan, -inf, -inf, 3, inf, 1, inf, inf, -inf}),
        1, false);
  }
  return cases;
}

std::vector<Case> softmax(kiln_op op, DType dtype, const Context& ctx, Rng& rng) {
  struct SoftSpec {
    Shape shape;
    Layout layout;
    int32_t axis;
    Domain domain;
  };
  static const std::vector<SoftSpec> specs = {
      {{7}, Layout::Contiguous, 0, Domain::General},        {{3, 5}, Layout::Contiguous, 1, Domain::General},
      {{3, 5}, Layout::Contiguous, 0, Domain::General},     {{2, 3, 4}, Layout::Permuted, 1, Domain::General},
      {{2, 3, 4}, Layout::Stepped, 2, Domain::General},     {{4, 5}, Layout::Broadcast, 1, Domain::General},
      {{5, 3}, Layout::Transposed, 0, Domain::General},     {{4, 9}, Layout::Offset, 1, Domain::Wide},
      {{3, 1000}, Layout::Contiguous, 1, Domain::General},  {{0, 3}, Layout::Contiguous, 1, Domain::General},
      {{3, 0}, Layout::Contiguous, 1, Domain::General},     {{1}, Layout::Contiguous, 0, Domain::General},
  };
  const bool backward = op == KILN_OP_SOFTMAX_BACKWARD || op == KILN_OP_LOG_SOFTMAX_BACKWARD;
  const kiln_op forward = op == KILN_OP_LOG_SOFTMAX_BACKWARD ? KILN_OP_LOG_SOFTMAX : KILN_OP_SOFTMAX;
  std::vector<Case> cases;
  for (const SoftSpec& s : specs) {
    Case c;
    c.name = (s.domain == Domain::Wide ? "large_values:" : "") + std::string(layout_name(s.layout)) +
             shape_label(s.shape) + "axis" + std::to_string(s.axis);
    c.dtype = std::string(dtype_name(dtype));
    kiln_axis_attrs attrs{KILN_ATTRS_HEAD(kiln_axis_attrs), s.axis};
    c.attrs = make_attrs(attrs);
    Tensor x = make_input(ctx, rng, s.shape, dtype, s.domain, s.layout);
    if (backward) {
      // y is a real (log-)softmax output, computed on the reference; dy takes the layout.
      Tensor y = make_output(ctx, s.shape, dtype);
      run_on_reference(ctx, forward, {x}, {y}, &attrs);
      c.inputs = {make_input(ctx, rng, s.shape, dtype, Domain::General, s.layout), y};
    } else {
      c.inputs = {x};
    }
    c.outputs = {make_output(ctx, s.shape, dtype)};
    set_tolerance(c, dtype, s.shape.size() ? s.shape[s.axis] : 1);
    cases.push_back(std::move(c));
  }
  if (!backward) {
    const double inf = std::numeric_limits<double>::infinity();
    Case c;
    c.name = "neg_inf[2,4]axis1";
    c.dtype = std::string(dtype_name(dtype));
    c.inputs = {host_tensor(ctx, {2, 4}, dtype, {-inf, 1, 2, -inf, 0.5, -inf, 3, 1})};
    c.outputs = {make_output(ctx, {2, 4}, dtype)};
    c.attrs = make_attrs(kiln_axis_attrs{KILN_ATTRS_HEAD(kiln_axis_attrs), 1});
    set_tolerance(c, dtype, 4);
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace

std::vector<Case> reduce_cases(kiln_op op, Kind kind, DType dtype, const Context& ctx, Rng& rng) {
  switch (kind) {
    case KILN_OP_KIND_REDUCE: return reduce(op, dtype, ctx, rng);
    case KILN_OP_KIND_ARGREDUCE: return argreduce(op, dtype, ctx, rng);
    case KILN_OP_KIND_SOFTMAX: return softmax(op, dtype, ctx, rng);
    default: return {};
  }
}

}  // namespace kiln::conformance
