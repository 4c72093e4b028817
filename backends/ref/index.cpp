// Indexing: gather, scatter_add, index_select, embedding and its backward. Index tensors are int64;
// every index is checked before anything is written.
#include <string>
#include <vector>

#include "dtype.hpp"
#include "kernels.hpp"
#include "strided.hpp"

namespace kiln::ref {
namespace {

using plugin::element_offset;

[[noreturn]] void index_out_of_range(const char* op, int64_t value, const int64_t* position, int32_t ndim,
                                     int64_t extent, const std::string& what) {
  fail(KILN_STATUS_INDEX_OUT_OF_RANGE, op, ": index ", value, " at position ", shape_str(position, ndim),
       " of the index tensor is out of range [0, ", extent, ") for ", what);
}

// Checks every element of `index` is in [0, extent).
void check_indices(const char* op, const kiln_tensor_desc& index, int64_t extent, const std::string& what) {
  View<const int64_t> iv(index);
  walk<1>(index.ndim, index.shape, {operand(index)}, [&](const int64_t* pos, const auto& off) {
    const int64_t v = iv.at(off[0]);
    if (v < 0 || v >= extent) index_out_of_range(op, v, pos, index.ndim, extent, what);
  });
}

std::string axis_of(const char* role, int32_t axis, const kiln_tensor_desc& t) {
  return "axis " + std::to_string(axis) + " of " + role + " with shape " + shape_str(t);
}

void check_axis(const char* op, int32_t axis, const kiln_tensor_desc& t) {
  if (axis < 0 || axis >= t.ndim)
    fail(KILN_STATUS_INVALID_ARGUMENT, op, ": axis ", axis, " is out of range [0, ", t.ndim, ") for shape ",
         shape_str(t));
}

// index fits inside `t` in every dim (except `skip_axis`, if >= 0).
void check_fits(const char* op, const kiln_tensor_desc& index, const char* role, const kiln_tensor_desc& t,
                int32_t skip_axis) {
  bool ok = index.ndim == t.ndim;
  for (int32_t d = 0; ok && d < t.ndim; ++d) ok = d == skip_axis || index.shape[d] <= t.shape[d];
  if (!ok)
    fail(KILN_STATUS_INVALID_ARGUMENT, op, ": expected index of shape ", shape_str(index), " to fit inside ",
         role, " of shape ", shape_str(t), skip_axis >= 0 ? " outside the axis" : "");
}

void gather(const kiln_tensor_desc& x, const kiln_tensor_desc& index, const kiln_tensor_desc& out,
            int32_t axis) {
  check_axis("gather", axis, x);
  check_fits("gather", index, "x", x, axis);
  check_same_shape("gather", "index", index, "out", out);
  check_indices("gather", index, x.shape[axis], axis_of("x", axis, x));
  dispatch_all(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    View<const T> xv(x);
    View<const int64_t> iv(index);
    View<T> ov(out);
    walk<2>(index.ndim, index.shape, {operand(index), operand(out)},
            [&](const int64_t* pos, const auto& off) {
              int64_t src[KILN_MAX_DIMS];
              for (int32_t d = 0; d < x.ndim; ++d) src[d] = pos[d];
              src[axis] = iv.at(off[0]);
              ov.at(off[1]) = xv.at(element_offset(x, src));
            });
  });
}

void scatter_add(const kiln_tensor_desc& self, const kiln_tensor_desc& index, const kiln_tensor_desc& src,
                 const kiln_tensor_desc& out, int32_t axis) {
  check_axis("scatter_add", axis, self);
  check_same_shape("scatter_add", "self", self, "out", out);
  check_fits("scatter_add", index, "src", src, -1);
  check_fits("scatter_add", index, "self", self, axis);
  check_indices("scatter_add", index, self.shape[axis], axis_of("self", axis, self));
  if (numel(out) == 0) return;  // then index is empty too; and row-major strides below could overflow
  dispatch_numeric(self.dtype, [&](auto tag) {
    using T = decltype(tag);
    // Accumulate in row-major order of out's shape (in double for floats), then round once.
    int64_t row_major[KILN_MAX_DIMS];
    int64_t step = 1;
    for (int32_t d = out.ndim - 1; d >= 0; --d) {
      row_major[d] = step;
      step *= out.shape[d];
    }
    std::vector<acc_t<T>> acc;
    acc.reserve(static_cast<size_t>(numel(out)));
    View<const T> sv(self), srcv(src);
    View<const int64_t> iv(index);
    walk<1>(self.ndim, self.shape, {operand(self)},
            [&](const int64_t*, const auto& off) { acc.push_back(static_cast<acc_t<T>>(sv.at(off[0]))); });
    walk<2>(index.ndim, index.shape, {operand(index), operand(src)},
            [&](const int64_t* pos, const auto& off) {
              int64_t linear = 0;
              for (int32_t d = 0; d < out.ndim; ++d)
                linear += (d == axis ? iv.at(off[0]) : pos[d]) * row_major[d];
              auto& slot = acc[static_cast<size_t>(linear)];
              slot = wrap_add(slot, static_cast<acc_t<T>>(srcv.at(off[1])));
            });
    View<T> ov(out);
    size_t i = 0;
    walk<1>(out.ndim, out.shape, {operand(out)},
            [&](const int64_t*, const auto& off) { ov.at(off[0]) = convert<T>(acc[i++]); });
  });
}

void index_select(const kiln_tensor_desc& x, const kiln_tensor_desc& index, const kiln_tensor_desc& out,
                  int32_t axis) {
  check_axis("index_select", axis, x);
  check_ndim("index_select", "index", index, 1);
  bool ok = out.ndim == x.ndim;
  for (int32_t d = 0; ok && d < x.ndim; ++d) ok = out.shape[d] == (d == axis ? index.shape[0] : x.shape[d]);
  if (!ok)
    fail(KILN_STATUS_INVALID_ARGUMENT, "index_select: expected out of x's shape ", shape_str(x),
         " with extent ", index.shape[0], " on axis ", axis, ", got ", shape_str(out));
  check_indices("index_select", index, x.shape[axis], axis_of("x", axis, x));
  dispatch_all(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    View<const T> xv(x);
    View<const int64_t> iv(index);
    View<T> ov(out);
    walk<1>(out.ndim, out.shape, {operand(out)}, [&](const int64_t* pos, const auto& off) {
      int64_t src[KILN_MAX_DIMS];
      for (int32_t d = 0; d < x.ndim; ++d) src[d] = pos[d];
      src[axis] = iv(pos[axis]);
      ov.at(off[0]) = xv.at(element_offset(x, src));
    });
  });
}

// Checks `rows` ([..., D]) against index ([...]) and returns D.
int64_t check_rows(const char* op, const char* role, const kiln_tensor_desc& rows,
                   const kiln_tensor_desc& index) {
  bool ok = rows.ndim == index.ndim + 1;
  for (int32_t d = 0; ok && d < index.ndim; ++d) ok = rows.shape[d] == index.shape[d];
  if (!ok)
    fail(KILN_STATUS_INVALID_ARGUMENT, op, ": expected ", role, " of shape index shape ", shape_str(index),
         " + [D], got ", shape_str(rows));
  return rows.shape[index.ndim];
}

void embedding(const kiln_tensor_desc& weight, const kiln_tensor_desc& index, const kiln_tensor_desc& out) {
  check_ndim("embedding", "weight [V, D]", weight, 2);
  const int64_t dim = check_rows("embedding", "out", out, index);
  if (dim != weight.shape[1])
    fail(KILN_STATUS_INVALID_ARGUMENT, "embedding: expected out rows of ", weight.shape[1], " (weight ",
         shape_str(weight), "), got ", dim);
  check_indices("embedding", index, weight.shape[0], "the rows of weight with shape " + shape_str(weight));
  dispatch_all(weight.dtype, [&](auto tag) {
    using T = decltype(tag);
    View<const T> wv(weight);
    View<const int64_t> iv(index);
    View<T> ov(out);
    const int32_t last = out.ndim - 1;
    walk<1>(out.ndim, out.shape, {operand(out)}, [&](const int64_t* pos, const auto& off) {
      ov.at(off[0]) = wv(iv.at(element_offset(index, pos)), pos[last]);
    });
  });
}

void embedding_backward(const kiln_tensor_desc& dy, const kiln_tensor_desc& index, const kiln_tensor_desc& dw,
                        const kiln_embedding_attrs& attrs) {
  check_ndim("embedding_backward", "dW [V, D]", dw, 2);
  const int64_t dim = check_rows("embedding_backward", "dy", dy, index);
  if (dim != dw.shape[1])
    fail(KILN_STATUS_INVALID_ARGUMENT, "embedding_backward: expected dy rows of ", dw.shape[1], " (dW ",
         shape_str(dw), "), got ", dim);
  const int64_t vocab = dw.shape[0];
  check_indices("embedding_backward", index, vocab, "the rows of dW with shape " + shape_str(dw));
  dispatch_float(dw.dtype, [&](auto tag) {
    using T = decltype(tag);
    std::vector<double> acc(static_cast<size_t>(numel(dw)), 0.0);
    View<const T> dyv(dy);
    View<const int64_t> iv(index);
    const int64_t row_step = dy.strides[index.ndim];
    walk<2>(index.ndim, index.shape, {operand(index), operand(dy)}, [&](const int64_t*, const auto& off) {
      const int64_t row = iv.at(off[0]);
      if (attrs.padding_idx >= 0 && row == attrs.padding_idx) return;
      for (int64_t j = 0; j < dim; ++j)
        acc[static_cast<size_t>(row * dim + j)] += static_cast<double>(dyv.at(off[1] + j * row_step));
    });
    View<T> ov(dw);
    for (int64_t v = 0; v < vocab; ++v)
      for (int64_t j = 0; j < dim; ++j) ov(v, j) = convert<T>(acc[static_cast<size_t>(v * dim + j)]);
  });
}

template <class A>
const A& attrs_as(const void* attrs) {
  return *static_cast<const A*>(attrs);
}

}  // namespace

void run_index(kiln_op op, const kiln_tensor_desc* in, const kiln_tensor_desc& out, const void* attrs) {
  switch (op) {
    case KILN_OP_GATHER:
      gather(in[0], in[1], out, attrs_as<kiln_axis_attrs>(attrs).axis);
      break;
    case KILN_OP_SCATTER_ADD:
      scatter_add(in[0], in[1], in[2], out, attrs_as<kiln_axis_attrs>(attrs).axis);
      break;
    case KILN_OP_INDEX_SELECT:
      index_select(in[0], in[1], out, attrs_as<kiln_axis_attrs>(attrs).axis);
      break;
    case KILN_OP_EMBEDDING:
      embedding(in[0], in[1], out);
      break;
    case KILN_OP_EMBEDDING_BACKWARD:
      embedding_backward(in[0], in[1], out, attrs_as<kiln_embedding_attrs>(attrs));
      break;
    default:
      fail(KILN_STATUS_INTERNAL, "ref: op ", kiln_op_name(op), " reached the index kernel");
  }
}

}  // namespace kiln::ref
