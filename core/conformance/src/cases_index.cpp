// Conformance cases of the INDEX kind: gather, scatter_add, index_select, embedding and its
// backward, over views and duplicates, plus the out-of-range and negative indices both backends
// must refuse.
#include "harness.hpp"

namespace kiln::conformance {

namespace {

// An int64 index tensor of the layout with every value of its buffer in [0, hi); `bad` puts one
// out-of-range value (hi, or -1 when negative) at the first logical element.
Tensor index_tensor(const Context& ctx, Rng& rng, const Shape& shape, int64_t hi, Layout layout = Layout::Contiguous,
                    int bad = 0) {
  Tensor t = make_input(ctx, rng, shape, DType::Int64, Domain::General, layout);
  const int64_t count = static_cast<int64_t>(t.impl()->storage->bytes / sizeof(int64_t));
  std::vector<double> v(static_cast<size_t>(count));
  for (auto& x : v) x = hi > 0 ? static_cast<double>(rng.integer(0, hi - 1)) : 0.0;
  if (bad != 0 && t.numel() > 0) v[static_cast<size_t>(t.offset())] = bad > 0 ? static_cast<double>(hi) : -1.0;
  Tensor fresh = host_tensor(ctx, {count}, DType::Int64, v);
  return detail::make_view(fresh, t.shape(), t.strides(), t.offset());
}

Case make_case(std::string name, DType dtype) {
  Case c;
  c.name = std::move(name);
  c.dtype = std::string(dtype_name(dtype));
  return c;
}

std::vector<Case> gather(DType dtype, const Context& ctx, Rng& rng) {
  struct Spec {
    const char* name;
    Shape x;
    Layout xl;
    int32_t axis;
    Shape index;
    Layout il;
    int bad;
  };
  static const std::vector<Spec> specs = {
      {"axis1", {3, 5}, Layout::Contiguous, 1, {3, 4}, Layout::Contiguous, 0},
      {"axis0", {3, 5}, Layout::Contiguous, 0, {2, 5}, Layout::Contiguous, 0},
      {"axis2_longer_index", {2, 3, 4}, Layout::Permuted, 2, {2, 3, 6}, Layout::Contiguous, 0},
      {"transposed_x_stepped_index", {4, 6}, Layout::Transposed, 1, {3, 6}, Layout::Stepped, 0},
      {"smaller_index", {4, 5}, Layout::Stepped, 1, {2, 3}, Layout::Transposed, 0},
      {"vector", {7}, Layout::Offset, 0, {10}, Layout::Contiguous, 0},
      {"broadcast_index", {3, 5}, Layout::Contiguous, 1, {3, 4}, Layout::Broadcast, 0},
      {"empty_index", {3, 5}, Layout::Contiguous, 0, {0, 5}, Layout::Contiguous, 0},
      {"out_of_range", {3, 5}, Layout::Contiguous, 1, {3, 4}, Layout::Contiguous, 1},
      {"negative", {3, 5}, Layout::Contiguous, 0, {2, 5}, Layout::Contiguous, -1},
  };
  std::vector<Case> cases;
  for (const Spec& s : specs) {
    Case c = make_case(std::string(s.name) + shape_label(s.x), dtype);
    c.inputs = {make_input(ctx, rng, s.x, dtype, Domain::General, s.xl),
                index_tensor(ctx, rng, s.index, s.x[s.axis], s.il, s.bad)};
    c.outputs = {make_output(ctx, s.index, dtype)};
    c.attrs = make_attrs(kiln_axis_attrs{KILN_ATTRS_HEAD(kiln_axis_attrs), s.axis});
    c.expect_error = s.bad != 0;
    cases.push_back(std::move(c));  // gather copies: exact
  }
  return cases;
}

std::vector<Case> scatter_add(DType dtype, const Context& ctx, Rng& rng) {
  struct Spec {
    const char* name;
    Shape self;
    Layout sl;
    int32_t axis;
    Shape index, src;
    int bad;
  };
  static const std::vector<Spec> specs = {
      {"axis1", {3, 5}, Layout::Contiguous, 1, {3, 4}, {3, 4}, 0},
      {"axis0_duplicates", {4, 3}, Layout::Transposed, 0, {6, 3}, {6, 3}, 0},
      {"src_larger", {3, 5}, Layout::Stepped, 1, {2, 3}, {3, 4}, 0},
      {"axis1_3d", {2, 3, 4}, Layout::Permuted, 1, {2, 5, 4}, {2, 5, 4}, 0},
      {"empty_index", {3, 5}, Layout::Contiguous, 0, {0, 5}, {0, 5}, 0},
      {"out_of_range", {3, 5}, Layout::Contiguous, 1, {3, 4}, {3, 4}, 1},
      {"negative", {3, 5}, Layout::Contiguous, 0, {2, 5}, {2, 5}, -1},
  };
  std::vector<Case> cases;
  for (const Spec& s : specs) {
    Case c = make_case(std::string(s.name) + shape_label(s.self), dtype);
    c.inputs = {make_input(ctx, rng, s.self, dtype, Domain::General, s.sl),
                index_tensor(ctx, rng, s.index, s.self[s.axis], Layout::Contiguous, s.bad),
                make_input(ctx, rng, s.src, dtype, Domain::General, Layout::Offset)};
    c.outputs = {make_output(ctx, s.self, dtype)};
    c.attrs = make_attrs(kiln_axis_attrs{KILN_ATTRS_HEAD(kiln_axis_attrs), s.axis});
    c.expect_error = s.bad != 0;
    set_tolerance(c, dtype, 8);  // duplicates may be summed in any order
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<Case> index_select(DType dtype, const Context& ctx, Rng& rng) {
  struct Spec {
    const char* name;
    Shape x;
    Layout xl;
    int32_t axis;
    int64_t count;
    Layout il;
    int bad;
  };
  static const std::vector<Spec> specs = {
      {"axis0_duplicates", {4, 5}, Layout::Contiguous, 0, 6, Layout::Contiguous, 0},
      {"axis1", {4, 5}, Layout::Transposed, 1, 3, Layout::Stepped, 0},
      {"axis2", {2, 3, 4}, Layout::Permuted, 2, 5, Layout::Offset, 0},
      {"vector", {7}, Layout::Stepped, 0, 9, Layout::Contiguous, 0},
      {"empty_index", {4, 5}, Layout::Contiguous, 0, 0, Layout::Contiguous, 0},
      {"broadcast_x", {4, 5}, Layout::Broadcast, 1, 4, Layout::Contiguous, 0},
      {"out_of_range", {4, 5}, Layout::Contiguous, 0, 3, Layout::Contiguous, 1},
      {"negative", {4, 5}, Layout::Contiguous, 1, 3, Layout::Contiguous, -1},
  };
  std::vector<Case> cases;
  for (const Spec& s : specs) {
    Case c = make_case(std::string(s.name) + shape_label(s.x), dtype);
    Shape out = s.x;
    out[s.axis] = s.count;
    c.inputs = {make_input(ctx, rng, s.x, dtype, Domain::General, s.xl),
                index_tensor(ctx, rng, {s.count}, s.x[s.axis], s.il, s.bad)};
    c.outputs = {make_output(ctx, out, dtype)};
    c.attrs = make_attrs(kiln_axis_attrs{KILN_ATTRS_HEAD(kiln_axis_attrs), s.axis});
    c.expect_error = s.bad != 0;
    cases.push_back(std::move(c));
  }
  return cases;
}

std::vector<Case> embedding(kiln_op op, DType dtype, const Context& ctx, Rng& rng) {
  struct Spec {
    const char* name;
    int64_t v, d;
    Shape index;
    Layout il;
    int64_t padding_idx;
    int bad;
  };
  static const std::vector<Spec> specs = {
      {"basic", 10, 4, {2, 3}, Layout::Contiguous, -1, 0},
      {"scalar_index", 10, 4, {}, Layout::Contiguous, -1, 0},
      {"stepped_index", 6, 3, {5}, Layout::Stepped, -1, 0},
      {"padding_idx2", 5, 4, {3, 4}, Layout::Transposed, 2, 0},
      {"duplicates", 3, 5, {12}, Layout::Offset, -1, 0},
      {"empty_index", 10, 4, {0}, Layout::Contiguous, -1, 0},
      {"out_of_range", 10, 4, {2, 3}, Layout::Contiguous, -1, 1},
      {"negative", 10, 4, {2, 3}, Layout::Contiguous, -1, -1},
  };
  std::vector<Case> cases;
  for (const Spec& s : specs) {
    Case c = make_case(std::string(s.name) + "[" + std::to_string(s.v) + "x" + std::to_string(s.d) + "]" +
                           shape_label(s.index),
                       dtype);
    Shape rows = s.index;
    rows.push_back(s.d);
    Tensor index = index_tensor(ctx, rng, s.index, s.v, s.il, s.bad);
    if (op == KILN_OP_EMBEDDING) {
      c.inputs = {make_input(ctx, rng, {s.v, s.d}, dtype, Domain::General, s.padding_idx >= 0 ? Layout::Transposed : Layout::Contiguous),
                  index};
      c.outputs = {make_output(ctx, rows, dtype)};
    } else {
      c.inputs = {make_input(ctx, rng, rows, dtype, Domain::General, Layout::Stepped), index};
      c.outputs = {make_output(ctx, {s.v, s.d}, dtype)};
      set_tolerance(c, dtype, 12);
    }
    c.attrs = make_attrs(kiln_embedding_attrs{KILN_ATTRS_HEAD(kiln_embedding_attrs), s.padding_idx});
    c.expect_error = s.bad != 0;
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace

std::vector<Case> index_cases(kiln_op op, Kind kind, DType dtype, const Context& ctx, Rng& rng) {
  (void)kind;
  switch (op) {
    case KILN_OP_GATHER: return gather(dtype, ctx, rng);
    case KILN_OP_SCATTER_ADD: return scatter_add(dtype, ctx, rng);
    case KILN_OP_INDEX_SELECT: return index_select(dtype, ctx, rng);
    case KILN_OP_EMBEDDING: case KILN_OP_EMBEDDING_BACKWARD: return embedding(op, dtype, ctx, rng);
    default: return {};
  }
}

}  // namespace kiln::conformance
