// Conformance cases of the data-movement kinds: CAST, FILL, COPY, RANDOM.
#include <cmath>

#include "harness.hpp"

namespace kiln::conformance {

namespace {

constexpr DType kDTypes[] = {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::UInt8, DType::Bool};

struct Spec {
  Shape shape;
  Layout layout;
};

std::string label(const Spec& s) { return std::string(layout_name(s.layout)) + shape_label(s.shape); }

// Source values a cast can convert without undefined behaviour: floats going to uint8 stay in
// [0, 240); floats going to int32/int64 stay within [-100, 100]; bool targets see zeros.
Tensor cast_source(const Context& ctx, Rng& rng, const Spec& s, DType from, DType to) {
  Tensor t = make_input(ctx, rng, s.shape, from, Domain::Wide, s.layout);
  // Rewrite the whole buffer behind the view so every reachable value is in range.
  const detail::Storage& st = *t.impl()->storage;
  const int64_t count = static_cast<int64_t>(st.bytes / dtype_size(from));
  std::vector<double> v = random_values(rng, count, from, Domain::Wide);
  for (size_t i = 0; i < v.size(); ++i) {
    if (is_floating(from) && to == DType::UInt8) v[i] = std::fabs(v[i]) * 1.2;
    if (to == DType::Bool && i % 3 == 0) v[i] = 0;
  }
  Tensor fresh = host_tensor(ctx, {count}, from, v);
  return detail::make_view(fresh, t.shape(), t.strides(), t.offset());
}

std::vector<Case> cast_cases(DType from, const Context& ctx, Rng& rng) {
  static const std::vector<Spec> specs = {{{7}, Layout::Contiguous},  {{3, 5}, Layout::Transposed},
                                          {{2, 3, 4}, Layout::Stepped}, {{}, Layout::Contiguous},
                                          {{4, 5}, Layout::Broadcast}, {{0, 3}, Layout::Contiguous},
                                          {{1031}, Layout::Offset}};
  std::vector<Case> cases;
  for (DType to : kDTypes) {
    for (const Spec& s : specs) {
      Case c;
      c.name = label(s);
      c.dtype = std::string(dtype_name(from)) + "->" + std::string(dtype_name(to));
      c.inputs = {cast_source(ctx, rng, s, from, to)};
      c.outputs = {make_output(ctx, s.shape, to)};
      cases.push_back(std::move(c));  // conversion is exact
    }
  }
  return cases;
}

// Destinations of FILL/COPY: strided views into a buffer of random values; the whole buffer is
// compared, so writing outside the view is caught.
const std::vector<Spec>& dst_specs() {
  static const std::vector<Spec> specs = {{{7}, Layout::Contiguous}, {{}, Layout::Contiguous},
                                          {{}, Layout::Stepped},     {{3, 5}, Layout::Transposed},
                                          {{3, 4}, Layout::Stepped}, {{2, 3, 4}, Layout::Permuted},
                                          {{6}, Layout::Offset},     {{0, 3}, Layout::Contiguous},
                                          {{1031}, Layout::Stepped}};
  return specs;
}

std::vector<Case> fill_cases(DType dtype, const Context& ctx, Rng& rng) {
  std::vector<kiln_scalar_attrs> values;
  if (is_floating(dtype)) values = scalar_attrs({{2.5, 0}, {-1.25, 0}});
  else if (dtype == DType::Bool) values = scalar_attrs({{1, 0}, {0, 0}});
  else values = scalar_attrs({{3, 0}});
  std::vector<Case> cases;
  for (const auto& value : values) {
    for (const Spec& s : dst_specs()) {
      Case c;
      c.name = "a=" + std::to_string(value.a).substr(0, 5) + ":" + label(s);
      c.dtype = std::string(dtype_name(dtype));
      c.outputs = {make_input(ctx, rng, s.shape, dtype, Domain::General, s.layout)};
      c.attrs = make_attrs(value);
      c.compare_storage = true;
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

std::vector<Case> copy_cases(DType dtype, const Context& ctx, Rng& rng) {
  static const std::vector<std::pair<Layout, Layout>> pairs = {
      {Layout::Contiguous, Layout::Transposed}, {Layout::Permuted, Layout::Stepped},
      {Layout::Broadcast, Layout::Contiguous},  {Layout::Offset, Layout::Permuted},
      {Layout::Stepped, Layout::Offset},        {Layout::Transposed, Layout::Contiguous}};
  static const std::vector<Shape> shapes = {{7}, {3, 5}, {2, 3, 4}, {}, {0, 3}, {1031}};
  std::vector<Case> cases;
  for (const Shape& shape : shapes) {
    for (const auto& [src, dst] : pairs) {
      if (shape.size() <= 1 && (src == Layout::Transposed || src == Layout::Permuted) &&
          (dst == Layout::Transposed || dst == Layout::Permuted || dst == Layout::Contiguous))
        continue;  // degenerate for vectors: same as another pair
      Case c;
      c.name = std::string(layout_name(src)) + "->" + layout_name(dst) + shape_label(shape);
      c.dtype = std::string(dtype_name(dtype));
      c.inputs = {make_input(ctx, rng, shape, dtype, Domain::Wide, src)};
      c.outputs = {make_input(ctx, rng, shape, dtype, Domain::General, dst)};
      c.compare_storage = true;
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

std::vector<Case> random_cases(kiln_op op, DType dtype, const Context& ctx) {
  kiln_random_attrs base = kiln_random_attrs_init();
  base.seed = 0x5EED1234ull + ctx.seed;
  switch (op) {
    case KILN_OP_UNIFORM:
      if (is_floating(dtype)) base.a = -1, base.b = 3;
      else if (dtype == DType::UInt8) base.a = 0, base.b = 200;
      else if (dtype == DType::Bool) base.a = 0, base.b = 2;
      else base.a = -5, base.b = 10;
      break;
    case KILN_OP_NORMAL: base.a = 0.5, base.b = 2.0; break;
    default: base.a = 0.3; break;  // bernoulli p
  }
  static const std::vector<Shape> shapes = {{7}, {3, 5}, {1031}, {}, {0, 4}};
  // Offsets: the start, an odd one, and one whose counter crosses into the high 32-bit word.
  static const uint64_t offsets[] = {0, 17, 0xFFFFFFF0ull};
  std::vector<Case> cases;
  for (uint64_t offset : offsets) {
    for (const Shape& shape : shapes) {
      if (offset != 0 && shape.numel() < 8) continue;
      kiln_random_attrs attrs = base;
      attrs.offset = offset;
      Case c;
      c.name = "offset=" + std::to_string(offset) + ":" + shape_label(shape);
      c.dtype = std::string(dtype_name(dtype));
      c.outputs = {make_output(ctx, shape, dtype)};
      c.attrs = make_attrs(attrs);
      // Uniform and bernoulli are bit-exact (float32 by the contract; float64 too, modulo a
      // fused multiply-add: one ulp); normal goes through log/cos/sqrt.
      if (op == KILN_OP_NORMAL) set_tolerance(c, dtype);
      else if (dtype == DType::Float64) c.rtol = 1e-15, c.atol = 1e-15;
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

}  // namespace

std::vector<Case> data_cases(kiln_op op, Kind kind, DType dtype, const Context& ctx, Rng& rng) {
  switch (kind) {
    case KILN_OP_KIND_CAST: return cast_cases(dtype, ctx, rng);
    case KILN_OP_KIND_FILL: return fill_cases(dtype, ctx, rng);
    case KILN_OP_KIND_COPY: return copy_cases(dtype, ctx, rng);
    case KILN_OP_KIND_RANDOM: return random_cases(op, dtype, ctx);
    default: return {};
  }
}

}  // namespace kiln::conformance
