// Indexing, joining and one-hot.
#include "ops/common.hpp"

namespace kiln {

using autograd::needs_grad;
using autograd::record;
using G = std::vector<Tensor>;

namespace {
void check_index(const char* op, const Tensor& index) {
  KILN_CHECK(index.dtype() == DType::Int64 || index.dtype() == DType::Int32, DTypeError, op,
             ": expected an int64 index tensor, got ", dtype_name(index.dtype()));
}
Tensor as_index(const Tensor& index) { return detail::as_dtype(index.detach(), DType::Int64); }
}  // namespace

Tensor gather(const Tensor& x, int64_t axis, const Tensor& index_in) {
  detail::check_defined("gather", {x, index_in});
  detail::check_same_device("gather", {x, index_in});
  check_index("gather", index_in);
  Tensor index = as_index(index_in);
  Tensor src = x.dim() == 0 ? x.reshape({1}) : x;
  if (index.dim() == 0) index = index.reshape({1});
  int64_t a = wrap_axis(axis, src.dim(), "gather");
  KILN_CHECK(index.dim() == src.dim(), ShapeError, "gather: index ", index.shape(), " must have as many axes as input ",
             x.shape());
  for (int64_t d = 0; d < src.dim(); ++d)
    KILN_CHECK(d == a || index.shape()[d] <= src.shape()[d], ShapeError, "gather: index ", index.shape(),
               " is larger than input ", x.shape(), " at axis ", d);
  kiln_axis_attrs attrs{KILN_ATTRS_HEAD(kiln_axis_attrs), static_cast<int32_t>(a)};
  Tensor out = detail::make_tensor(index.shape(), src.dtype(), src.device());
  detail::run(KILN_OP_GATHER, src.device(), {src.detach(), index}, {out}, &attrs);
  if (needs_grad({src})) {
    Shape in_shape = src.shape();
    record("gather", {src}, {out}, [index, a, in_shape](const G& g) {
      Tensor z = zeros(in_shape, {.dtype = g[0].dtype(), .device = g[0].device()});
      return G{scatter_add(z, a, index, g[0])};
    });
  }
  return out;
}

Tensor scatter_add(const Tensor& self, int64_t axis, const Tensor& index_in, const Tensor& src_in) {
  detail::check_defined("scatter_add", {self, index_in, src_in});
  detail::check_same_device("scatter_add", {self, index_in, src_in});
  check_index("scatter_add", index_in);
  Tensor index = as_index(index_in);
  int64_t a = wrap_axis(axis, self.dim(), "scatter_add");
  KILN_CHECK(index.dim() == self.dim() && src_in.dim() == self.dim(), ShapeError, "scatter_add: self ", self.shape(),
             ", index ", index.shape(), " and src ", src_in.shape(), " must have the same number of axes");
  for (int64_t d = 0; d < self.dim(); ++d) {
    KILN_CHECK(index.shape()[d] <= src_in.shape()[d], ShapeError, "scatter_add: index ", index.shape(),
               " is larger than src ", src_in.shape(), " at axis ", d);
    KILN_CHECK(d == a || index.shape()[d] <= self.shape()[d], ShapeError, "scatter_add: index ", index.shape(),
               " is larger than self ", self.shape(), " at axis ", d);
  }
  Tensor src = detail::as_dtype(src_in.detach(), self.dtype());
  kiln_axis_attrs attrs{KILN_ATTRS_HEAD(kiln_axis_attrs), static_cast<int32_t>(a)};
  Tensor out = detail::make_tensor(self.shape(), self.dtype(), self.device());
  detail::run(KILN_OP_SCATTER_ADD, self.device(), {self.detach(), index, src}, {out}, &attrs);
  if (needs_grad({self, src_in})) {
    Shape src_shape = src_in.shape();
    record("scatter_add", {self, src_in}, {out}, [index, a, src_shape](const G& g) {
      Tensor gs = gather(g[0], a, index);
      if (gs.shape() != src_shape) {
        Tensor full_g = zeros(src_shape, {.dtype = gs.dtype(), .device = gs.device()});
        Tensor view = full_g;
        for (int64_t d = 0; d < gs.dim(); ++d) view = view.narrow(d, 0, gs.shape()[d]);
        view.copy_(gs);
        gs = full_g;
      }
      return G{g[0], gs};
    });
  }
  return out;
}

Tensor index_select(const Tensor& x, int64_t axis, const Tensor& index_in) {
  detail::check_defined("index_select", {x, index_in});
  detail::check_same_device("index_select", {x, index_in});
  check_index("index_select", index_in);
  KILN_CHECK(index_in.dim() <= 1, ShapeError, "index_select: expected a 1-D index, got shape ", index_in.shape());
  Tensor index = as_index(index_in).reshape({-1});
  Tensor src = x.dim() == 0 ? x.reshape({1}) : x;
  int64_t a = wrap_axis(axis, src.dim(), "index_select");
  Shape s = src.shape();
  s[a] = index.numel();
  kiln_axis_attrs attrs{KILN_ATTRS_HEAD(kiln_axis_attrs), static_cast<int32_t>(a)};
  Tensor out = detail::make_tensor(s, src.dtype(), src.device());
  detail::run(KILN_OP_INDEX_SELECT, src.device(), {src.detach(), index}, {out}, &attrs);
  if (needs_grad({src})) {
    Shape in_shape = src.shape();
    record("index_select", {src}, {out}, [index, a, in_shape](const G& g) {
      Shape view_shape;
      for (int64_t d = 0; d < g[0].dim(); ++d) view_shape.push_back(d == a ? index.numel() : 1);
      Tensor idx = index.reshape(view_shape).expand(g[0].shape());
      Tensor z = zeros(in_shape, {.dtype = g[0].dtype(), .device = g[0].device()});
      return G{scatter_add(z, a, idx.contiguous(), g[0])};
    });
  }
  return out;
}

Tensor embedding(const Tensor& weight, const Tensor& index_in, int64_t padding_idx) {
  detail::check_defined("embedding", {weight, index_in});
  detail::check_same_device("embedding", {weight, index_in});
  check_index("embedding", index_in);
  KILN_CHECK(weight.dim() == 2, ShapeError, "embedding: expected weight [num_embeddings, dim], got shape ",
             weight.shape());
  Tensor index = as_index(index_in);
  Shape s = index.shape();
  s.push_back(weight.shape()[1]);
  kiln_embedding_attrs attrs{KILN_ATTRS_HEAD(kiln_embedding_attrs), padding_idx};
  Tensor out = detail::make_tensor(s, weight.dtype(), weight.device());
  detail::run(KILN_OP_EMBEDDING, weight.device(), {weight.detach(), index}, {out}, &attrs);
  if (needs_grad({weight})) {
    Shape w_shape = weight.shape();
    record("embedding", {weight}, {out}, [index, attrs, w_shape](const G& g) {
      Tensor dw = detail::make_tensor(w_shape, g[0].dtype(), g[0].device());
      detail::run(KILN_OP_EMBEDDING_BACKWARD, g[0].device(), {g[0], index}, {dw}, &attrs);
      return G{dw};
    });
  }
  return out;
}

Tensor one_hot(const Tensor& index, int64_t num_classes) {
  detail::check_defined("one_hot", {index});
  check_index("one_hot", index);
  KILN_CHECK(num_classes > 0, ValueError, "one_hot: num_classes must be positive, got ", num_classes);
  Tensor classes = arange(0.0, static_cast<double>(num_classes), 1.0, {.dtype = DType::Int64, .device = index.device()});
  return eq(as_index(index).unsqueeze(-1), classes).to(DType::Int64);
}

Tensor cat(const std::vector<Tensor>& tensors, int64_t axis) {
  KILN_CHECK(!tensors.empty(), ValueError, "cat: expected at least one tensor");
  const Tensor& first = tensors.front();
  int64_t a = wrap_axis(axis, first.dim(), "cat");
  Shape s = first.shape();
  DType t = first.dtype();
  int64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& x = tensors[i];
    detail::check_defined("cat", {x});
    KILN_CHECK(x.dim() == first.dim(), ShapeError, "cat: tensor ", i, " has shape ", x.shape(), ", tensor 0 has ",
               first.shape(), " (need the same number of axes)");
    for (int64_t d = 0; d < x.dim(); ++d)
      KILN_CHECK(d == a || x.shape()[d] == s[d], ShapeError, "cat: tensor ", i, " has shape ", x.shape(),
                 " but tensor 0 has ", first.shape(), "; they may differ only at axis ", a);
    total += x.shape()[a];
    t = promote_types(t, x.dtype());
  }
  s[a] = total;
  Tensor out = detail::make_tensor(s, t, first.device());
  std::vector<int64_t> sizes;
  int64_t off = 0;
  for (const Tensor& x : tensors) {
    out.narrow(a, off, x.shape()[a]).copy_(x.detach());
    off += x.shape()[a];
    sizes.push_back(x.shape()[a]);
  }
  if (needs_grad(tensors)) {
    record("cat", tensors, {out}, [sizes, a](const G& g) {
      G grads;
      int64_t o = 0;
      for (auto n : sizes) {
        grads.push_back(g[0].narrow(a, o, n));
        o += n;
      }
      return grads;
    });
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t axis) {
  KILN_CHECK(!tensors.empty(), ValueError, "stack: expected at least one tensor");
  int64_t a = wrap_axis(axis, tensors.front().dim() + 1, "stack");
  std::vector<Tensor> parts;
  for (size_t i = 0; i < tensors.size(); ++i) {
    KILN_CHECK(tensors[i].shape() == tensors.front().shape(), ShapeError, "stack: tensor ", i, " has shape ",
               tensors[i].shape(), " but tensor 0 has ", tensors.front().shape());
    parts.push_back(tensors[i].unsqueeze(a));
  }
  return cat(parts, a);
}

}  // namespace kiln
