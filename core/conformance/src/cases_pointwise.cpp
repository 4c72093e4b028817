// Conformance cases of the pointwise kinds: UNARY, SCALAR_UNARY, BINARY, COMPARE, TERNARY.
#include <cmath>
#include <limits>
#include <sstream>

#include "harness.hpp"

namespace kiln::conformance {

namespace {

struct Spec {
  Shape shape;
  Layout layout;
};

// Odd shapes, a 0-d scalar (plain and at an offset), views of every kind, a stride-0 broadcast,
// an empty tensor and one long vector (SIMD tails and parallel chunking).
const std::vector<Spec>& unary_specs() {
  static const std::vector<Spec> specs = {
      {{7}, Layout::Contiguous},        {{3, 5}, Layout::Contiguous},     {{2, 3, 4}, Layout::Contiguous},
      {{}, Layout::Contiguous},         {{}, Layout::Stepped},            {{5, 3}, Layout::Transposed},
      {{2, 3, 4}, Layout::Permuted},    {{3, 4}, Layout::Stepped},        {{6}, Layout::Offset},
      {{4, 5}, Layout::Broadcast},      {{0, 3}, Layout::Contiguous},     {{1031}, Layout::Contiguous},
      {{2, 3, 2, 5}, Layout::Permuted},
  };
  return specs;
}

// Input domain of each unary op.
Domain unary_domain(kiln_op op) {
  switch (op) {
    case KILN_OP_LOG: case KILN_OP_SQRT: case KILN_OP_RSQRT: case KILN_OP_POW_SCALAR: return Domain::Positive;
    case KILN_OP_SIGN: case KILN_OP_RELU: case KILN_OP_LOGICAL_NOT: return Domain::SmallInt;
    default: return Domain::General;
  }
}

std::string case_name(const std::string& prefix, const Spec& s) {
  return prefix + layout_name(s.layout) + shape_label(s.shape);
}

DType out_dtype(kiln_op op, DType dtype) {
  auto sig = detail::op_signature(op, dtype);
  return static_cast<DType>(sig.back());
}

std::vector<kiln_scalar_attrs> scalar_variants(kiln_op op, DType dtype) {
  const bool fl = is_floating(dtype), u8 = dtype == DType::UInt8;
  const double inf = std::numeric_limits<double>::infinity();
  switch (op) {
    case KILN_OP_ADD_SCALAR: return fl ? scalar_attrs({{1.5, 0}, {-0.25, 0}}) : scalar_attrs({{3, 0}});
    case KILN_OP_MUL_SCALAR: return fl ? scalar_attrs({{2.5, 0}, {-0.5, 0}}) : scalar_attrs({{3, 0}});
    case KILN_OP_POW_SCALAR: return scalar_attrs({{2, 0}, {0.5, 0}, {-1.5, 0}, {3, 0}});
    case KILN_OP_CLAMP:
      if (fl) return scalar_attrs({{-0.5, 1.0}, {-inf, 0.5}, {-1.0, inf}});
      return u8 ? scalar_attrs({{2, 6}}) : scalar_attrs({{-2, 3}});
    case KILN_OP_LEAKY_RELU: return fl ? scalar_attrs({{0.1, 0}, {0.0, 0}}) : scalar_attrs({{2, 0}});
    default: return scalar_attrs({{0, 0}});
  }
}

std::string scalar_label(const kiln_scalar_attrs& a) {
  std::ostringstream os;
  os << "a=" << a.a << ",b=" << a.b << ":";
  return os.str();
}

std::vector<Case> unary(kiln_op op, Kind kind, DType dtype, const Context& ctx, Rng& rng) {
  std::vector<Case> cases;
  const DType out = out_dtype(op, dtype);
  const std::vector<kiln_scalar_attrs> variants =
      kind == KILN_OP_KIND_SCALAR_UNARY ? scalar_variants(op, dtype) : scalar_attrs({{0, 0}});
  for (size_t v = 0; v < variants.size(); ++v) {
    const auto& specs = unary_specs();
    // The first attribute variant runs every layout; the others a representative few.
    const size_t count = v == 0 ? specs.size() : 6;
    for (size_t i = 0; i < count; ++i) {
      const Spec& s = specs[i];
      Case c;
      c.name = case_name(kind == KILN_OP_KIND_SCALAR_UNARY ? scalar_label(variants[v]) : "", s);
      c.dtype = std::string(dtype_name(dtype));
      c.inputs = {make_input(ctx, rng, s.shape, dtype, unary_domain(op), s.layout)};
      c.outputs = {make_output(ctx, s.shape, out)};
      if (kind == KILN_OP_KIND_SCALAR_UNARY) c.attrs = make_attrs(variants[v]);
      set_tolerance(c, out);
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

// Two (or three) operands of one logical shape in different layouts, including broadcasts.
struct PairSpec {
  const char* name;
  Shape shape;
  Layout a, b;
};

const std::vector<PairSpec>& pair_specs() {
  static const std::vector<PairSpec> specs = {
      {"contiguous", {7}, Layout::Contiguous, Layout::Contiguous},
      {"contiguous", {2, 3, 4}, Layout::Contiguous, Layout::Contiguous},
      {"scalar", {}, Layout::Contiguous, Layout::Stepped},
      {"contiguous+transposed", {3, 5}, Layout::Contiguous, Layout::Transposed},
      {"permuted+stepped", {2, 3, 4}, Layout::Permuted, Layout::Stepped},
      {"broadcast+contiguous", {4, 5}, Layout::Broadcast, Layout::Contiguous},
      {"offset+stepped", {6}, Layout::Offset, Layout::Stepped},
      {"empty", {0, 3}, Layout::Contiguous, Layout::Contiguous},
      {"long", {1031}, Layout::Contiguous, Layout::Offset},
  };
  return specs;
}

std::pair<Domain, Domain> binary_domains(kiln_op op, DType dtype) {
  switch (op) {
    case KILN_OP_POW: return {Domain::Positive, Domain::General};
    // Integer division by zero is defined (0), so integer divisors include zeros.
    case KILN_OP_DIV: return {Domain::General, is_floating(dtype) ? Domain::NonZero : Domain::General};
    case KILN_OP_MAXIMUM: case KILN_OP_MINIMUM: return {Domain::SmallInt, Domain::SmallInt};
    default: return {Domain::General, Domain::General};
  }
}

std::vector<Case> binary(kiln_op op, Kind kind, DType dtype, const Context& ctx, Rng& rng) {
  std::vector<Case> cases;
  const DType out = out_dtype(op, dtype);
  auto [da, db] = kind == KILN_OP_KIND_COMPARE ? std::pair{Domain::SmallInt, Domain::SmallInt} : binary_domains(op, dtype);
  auto add_case = [&](std::string name, Tensor a, Tensor b) {
    Case c;
    c.name = std::move(name);
    c.dtype = std::string(dtype_name(dtype));
    c.outputs = {make_output(ctx, a.shape(), out)};
    c.inputs = {std::move(a), std::move(b)};
    set_tolerance(c, out);
    cases.push_back(std::move(c));
  };
  for (const PairSpec& s : pair_specs())
    add_case(std::string(s.name) + shape_label(s.shape), make_input(ctx, rng, s.shape, dtype, da, s.a),
             make_input(ctx, rng, s.shape, dtype, db, s.b));
  // Both operands broadcast: [4, 1] and [1, 5] expanded to [4, 5]; a 0-d operand expanded to [2, 3].
  add_case("outer_broadcast[4,5]", make_input(ctx, rng, {4, 1}, dtype, da).expand({4, 5}),
           make_input(ctx, rng, {1, 5}, dtype, db).expand({4, 5}));
  add_case("scalar_broadcast[2,3]", make_input(ctx, rng, {2, 3}, dtype, da, Layout::Transposed),
           make_input(ctx, rng, {}, dtype, db).expand({2, 3}));
  if (is_floating(dtype) && (op == KILN_OP_MAXIMUM || op == KILN_OP_MINIMUM || kind == KILN_OP_KIND_COMPARE)) {
    // NaN propagates through maximum/minimum and compares false (ne: true).
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    add_case("nan_inf[6]", host_tensor(ctx, {6}, dtype, {nan, 1.0, nan, -inf, 2.0, inf}),
             host_tensor(ctx, {6}, dtype, {1.0, nan, nan, 0.0, inf, inf}));
  }
  if (op == KILN_OP_DIV && !is_floating(dtype)) {
    add_case("divide_by_zero[4]", host_tensor(ctx, {4}, dtype, {7, 0, 3, 9}), host_tensor(ctx, {4}, dtype, {0, 0, 2, 0}));
    if (dtype != DType::UInt8)
      add_case("truncation[4]", host_tensor(ctx, {4}, dtype, {-7, 7, -7, 1}), host_tensor(ctx, {4}, dtype, {2, -2, -2, 3}));
  }
  return cases;
}

// mul_add: x * y + z, rounded once or twice, so within a few ulps of the reference's double result.
std::vector<Case> mul_add(DType dtype, const Context& ctx, Rng& rng) {
  std::vector<Case> cases;
  auto add_case = [&](std::string name, Tensor x, Tensor y, Tensor z) {
    Case c;
    c.name = std::move(name);
    c.dtype = std::string(dtype_name(dtype));
    c.outputs = {make_output(ctx, x.shape(), dtype)};
    c.inputs = {std::move(x), std::move(y), std::move(z)};
    c.rtol = dtype == DType::Float32 ? 1e-6 : 1e-14;
    c.atol = dtype == DType::Float32 ? 1e-6 : 1e-14;
    cases.push_back(std::move(c));
  };
  for (const PairSpec& s : pair_specs())
    add_case(std::string(s.name) + shape_label(s.shape), make_input(ctx, rng, s.shape, dtype, Domain::General, s.a),
             make_input(ctx, rng, s.shape, dtype, Domain::General, s.b),
             make_input(ctx, rng, s.shape, dtype, Domain::General, s.a));
  // Per-channel operands, as batch norm passes them: [N, C, H, W] with [1, C, 1, 1] expanded, on
  // small and large planes, either operand per-channel, and on [N, C] (BatchNorm1d).
  for (const Shape& shape : {Shape{2, 3, 2, 2}, Shape{2, 3, 16, 16}, Shape{5, 4}}) {
    std::vector<int64_t> dims(static_cast<size_t>(shape.size()), 1);
    dims[1] = shape[1];
    const Shape channel(dims);
    auto per_channel = [&] { return make_input(ctx, rng, channel, dtype, Domain::General).expand(shape); };
    auto full = [&] { return make_input(ctx, rng, shape, dtype, Domain::General); };
    add_case("channel_scale_shift" + shape_label(shape), full(), per_channel(), per_channel());
    add_case("channel_scale" + shape_label(shape), full(), per_channel(), full());
    add_case("channel_x_shift" + shape_label(shape), per_channel(), full(), per_channel());
  }
  add_case("broadcast_all[3,4]", make_input(ctx, rng, {3, 1}, dtype, Domain::General).expand({3, 4}),
           make_input(ctx, rng, {1, 4}, dtype, Domain::General).expand({3, 4}),
           make_input(ctx, rng, {}, dtype, Domain::General).expand({3, 4}));
  return cases;
}

std::vector<Case> ternary(kiln_op op, DType dtype, const Context& ctx, Rng& rng) {
  if (op == KILN_OP_MUL_ADD) return mul_add(dtype, ctx, rng);
  std::vector<Case> cases;
  auto add_case = [&](std::string name, Tensor cond, Tensor a, Tensor b) {
    Case c;
    c.name = std::move(name);
    c.dtype = std::string(dtype_name(dtype));
    c.outputs = {make_output(ctx, cond.shape(), dtype)};
    c.inputs = {std::move(cond), std::move(a), std::move(b)};
    cases.push_back(std::move(c));  // where selects: exact for every dtype
  };
  for (const PairSpec& s : pair_specs())
    add_case(std::string(s.name) + shape_label(s.shape), make_input(ctx, rng, s.shape, DType::Bool, Domain::General, s.b),
             make_input(ctx, rng, s.shape, dtype, Domain::General, s.a),
             make_input(ctx, rng, s.shape, dtype, Domain::General, s.b));
  add_case("broadcast_all[3,4]", make_input(ctx, rng, {3, 1}, DType::Bool, Domain::General).expand({3, 4}),
           make_input(ctx, rng, {1, 4}, dtype, Domain::General).expand({3, 4}),
           make_input(ctx, rng, {}, dtype, Domain::General).expand({3, 4}));
  return cases;
}

}  // namespace

std::vector<Case> pointwise_cases(kiln_op op, Kind kind, DType dtype, const Context& ctx, Rng& rng) {
  switch (kind) {
    case KILN_OP_KIND_UNARY: case KILN_OP_KIND_SCALAR_UNARY: return unary(op, kind, dtype, ctx, rng);
    case KILN_OP_KIND_BINARY: case KILN_OP_KIND_COMPARE: return binary(op, kind, dtype, ctx, rng);
    case KILN_OP_KIND_TERNARY: return ternary(op, dtype, ctx, rng);
    default: return {};
  }
}

}  // namespace kiln::conformance
