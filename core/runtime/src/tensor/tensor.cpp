// Tensor metadata, views and conversions.
#include <kiln/autograd.hpp>
#include <kiln/ops.hpp>
#include <kiln/tensor.hpp>

#include <algorithm>
#include <numeric>

#include "dispatch/dispatch.hpp"

namespace kiln {

using detail::make_view;

const TensorImpl& Tensor::checked() const {
  KILN_CHECK(impl_ != nullptr, ValueError, "use of an undefined tensor (default-constructed kiln::Tensor)");
  return *impl_;
}

int64_t Tensor::size(int64_t axis) const {
  KILN_CHECK(dim() > 0, IndexError, "size(", axis, "): a 0-d tensor has no axes");
  return shape()[wrap_axis(axis, dim(), "size")];
}

bool Tensor::is_contiguous() const {
  const auto& s = shape();
  const auto& st = strides();
  int64_t expected = 1;
  for (int64_t i = s.size() - 1; i >= 0; --i) {
    if (s[i] != 1 && st[i] != expected) return false;
    expected *= s[i];
  }
  return true;
}

bool Tensor::shares_storage(const Tensor& o) const { return impl()->storage == o.impl()->storage; }

namespace {

Shape infer_shape(const Shape& requested, int64_t numel, const char* op, const Shape& from) {
  Shape out = requested;
  int64_t infer = -1, known = 1;
  for (int64_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      KILN_CHECK(infer < 0, ShapeError, op, ": only one extent may be -1, got ", requested);
      infer = i;
    } else {
      KILN_CHECK(out[i] >= 0, ShapeError, op, ": invalid extent ", out[i], " in ", requested);
      known *= out[i];
    }
  }
  if (infer >= 0) {
    KILN_CHECK(known != 0 && numel % known == 0, ShapeError, op, ": cannot reshape ", from, " (", numel,
               " elements) into ", requested);
    out[infer] = numel / known;
  }
  KILN_CHECK(out.numel() == numel, ShapeError, op, ": cannot reshape ", from, " (", numel, " elements) into ",
             requested, " (", out.numel(), " elements)");
  return out;
}

// Strides that let `shape` view memory laid out as (old_shape, old_strides), or false
// (the rule PyTorch's view follows: merged axes must be contiguous with each other).
bool view_strides(const Shape& old_shape, const Shape& old_strides, const Shape& shape, Shape& out) {
  out.resize(shape.size());
  if (old_shape.numel() == 0 || old_shape.size() == 0) {
    out = contiguous_strides(shape);
    return true;
  }
  int64_t view_d = shape.size() - 1;
  int64_t chunk_base_stride = old_strides.size() ? old_strides.back() : 1;
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = old_shape.size() - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    if (d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (d > 0) {
        chunk_base_stride = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

Tensor with_backward(const char* name, const Tensor& input, Tensor out, autograd::BackwardFn fn) {
  if (autograd::needs_grad({input})) autograd::record(name, {input}, {out}, std::move(fn));
  return out;
}

}  // namespace

Tensor Tensor::view(const Shape& requested) const {
  Shape shape_out = infer_shape(requested, numel(), "view", shape());
  Shape st;
  KILN_CHECK(view_strides(shape(), strides(), shape_out, st), ShapeError, "view: cannot view a tensor of shape ",
             shape(), " and strides ", strides(), " as ", requested,
             " without copying; use reshape() (or contiguous().view())");
  Shape in_shape = shape();
  return with_backward("view", *this, make_view(*this, shape_out, st, offset()),
                       [in_shape](const std::vector<Tensor>& g) { return std::vector<Tensor>{g[0].reshape(in_shape)}; });
}

Tensor Tensor::reshape(const Shape& requested) const {
  Shape shape_out = infer_shape(requested, numel(), "reshape", shape());
  Shape st;
  if (view_strides(shape(), strides(), shape_out, st)) return view(shape_out);
  return contiguous().view(shape_out);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  int64_t n = dim();
  KILN_CHECK(static_cast<int64_t>(dims.size()) == n, ShapeError, "permute: expected ", n,
             " axes for a tensor of shape ", shape(), ", got ", dims.size());
  Shape s, st;
  std::vector<int64_t> inverse(n, -1);
  for (int64_t i = 0; i < n; ++i) {
    int64_t d = wrap_axis(dims[i], n, "permute");
    KILN_CHECK(inverse[d] < 0, ShapeError, "permute: axis ", dims[i], " repeated");
    inverse[d] = i;
    s.push_back(shape()[d]);
    st.push_back(strides()[d]);
  }
  return with_backward("permute", *this, make_view(*this, s, st, offset()),
                       [inverse](const std::vector<Tensor>& g) { return std::vector<Tensor>{g[0].permute(inverse)}; });
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  int64_t n = dim();
  if (n == 0) return *this;
  std::vector<int64_t> dims(n);
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[wrap_axis(a, n, "transpose")], dims[wrap_axis(b, n, "transpose")]);
  return permute(dims);
}

Tensor Tensor::t() const {
  KILN_CHECK(dim() <= 2, ShapeError, "t(): expected a tensor of at most 2 dimensions, got shape ", shape());
  return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::slice(int64_t axis, int64_t start, int64_t end, int64_t step) const {
  int64_t d = wrap_axis(axis, dim(), "slice");
  KILN_CHECK(dim() > 0, IndexError, "slice: cannot slice a 0-d tensor");
  KILN_CHECK(step > 0, ValueError, "slice: step must be positive, got ", step);
  int64_t n = shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = shape(), st = strides();
  s[d] = (end - start + step - 1) / step;
  st[d] = strides()[d] * step;
  Shape in_shape = shape();
  Tensor out = make_view(*this, s, st, offset() + start * strides()[d]);
  return with_backward("slice", *this, out, [in_shape, d, start, end, step](const std::vector<Tensor>& g) {
    Tensor gi = zeros(in_shape, {.dtype = g[0].dtype(), .device = g[0].device()});
    gi.slice(d, start, end, step).copy_(g[0]);
    return std::vector<Tensor>{gi};
  });
}

Tensor Tensor::narrow(int64_t axis, int64_t start, int64_t length) const {
  int64_t d = wrap_axis(axis, dim(), "narrow");
  int64_t n = shape()[d];
  if (start < 0) start += n;
  KILN_CHECK(start >= 0 && length >= 0 && start + length <= n, IndexError, "narrow: range [", start, ", ",
             start + length, ") is outside axis ", axis, " of extent ", n, " (shape ", shape(), ")");
  return slice(d, start, start + length);
}

Tensor Tensor::select(int64_t axis, int64_t index) const {
  KILN_CHECK(dim() > 0, IndexError, "select: cannot index a 0-d tensor");
  int64_t d = wrap_axis(axis, dim(), "select");
  int64_t n = shape()[d];
  KILN_CHECK(index >= -n && index < n, IndexError, "index ", index, " is out of range for axis ", axis,
             " of extent ", n, " (shape ", shape(), ")");
  if (index < 0) index += n;
  return slice(d, index, index + 1).squeeze(d);
}

Tensor Tensor::squeeze() const {
  Shape s;
  for (auto e : shape())
    if (e != 1) s.push_back(e);
  return reshape(s);
}

Tensor Tensor::squeeze(int64_t axis) const {
  if (dim() == 0) return *this;
  int64_t d = wrap_axis(axis, dim(), "squeeze");
  if (shape()[d] != 1) return *this;
  Shape s = shape(), st = strides();
  s.erase(d);
  st.erase(d);
  Shape in_shape = shape();
  return with_backward("squeeze", *this, make_view(*this, s, st, offset()),
                       [in_shape](const std::vector<Tensor>& g) { return std::vector<Tensor>{g[0].reshape(in_shape)}; });
}

Tensor Tensor::unsqueeze(int64_t axis) const {
  int64_t d = wrap_axis(axis, dim() + 1, "unsqueeze");
  Shape s = shape(), st = strides();
  int64_t stride = d < dim() ? strides()[d] * shape()[d] : 1;
  s.insert(d, 1);
  st.insert(d, stride);
  Shape in_shape = shape();
  return with_backward("unsqueeze", *this, make_view(*this, s, st, offset()),
                       [in_shape](const std::vector<Tensor>& g) { return std::vector<Tensor>{g[0].reshape(in_shape)}; });
}

Tensor Tensor::expand(const Shape& target) const {
  int64_t n = target.size(), m = dim();
  KILN_CHECK(n >= m, ShapeError, "expand: cannot expand shape ", shape(), " to fewer dimensions ", target);
  Shape s, st;
  s.resize(n);
  st.resize(n);
  for (int64_t i = n - 1; i >= 0; --i) {
    int64_t j = i - (n - m);
    int64_t want = target[i];
    if (j >= 0) {
      int64_t have = shape()[j];
      if (want == -1) want = have;
      KILN_CHECK(have == want || have == 1, ShapeError, "expand: cannot expand shape ", shape(), " to ", target,
                 " (axis ", i, ": ", have, " vs ", want, ")");
      s[i] = want;
      st[i] = have == want ? strides()[j] : 0;
    } else {
      KILN_CHECK(want >= 0, ShapeError, "expand: -1 is not allowed for a new leading axis in ", target);
      s[i] = want;
      st[i] = 0;
    }
  }
  if (s == shape()) return *this;
  Shape in_shape = shape();
  return with_backward("expand", *this, make_view(*this, s, st, offset()), [in_shape](const std::vector<Tensor>& g) {
    return std::vector<Tensor>{autograd::sum_to(g[0], in_shape)};
  });
}

Tensor Tensor::flatten(int64_t start_axis, int64_t end_axis) const {
  if (dim() == 0) return reshape({1});
  int64_t a = wrap_axis(start_axis, dim(), "flatten"), b = wrap_axis(end_axis, dim(), "flatten");
  KILN_CHECK(a <= b, ShapeError, "flatten: start axis ", start_axis, " is after end axis ", end_axis);
  Shape s;
  for (int64_t i = 0; i < a; ++i) s.push_back(shape()[i]);
  int64_t merged = 1;
  for (int64_t i = a; i <= b; ++i) merged *= shape()[i];
  s.push_back(merged);
  for (int64_t i = b + 1; i < dim(); ++i) s.push_back(shape()[i]);
  return reshape(s);
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = detail::make_tensor(shape(), dtype(), device());
  {
    NoGradGuard guard;
    detail::run(KILN_OP_COPY, device(), {*this}, {out});
  }
  return with_backward("clone", *this, out, [](const std::vector<Tensor>& g) { return std::vector<Tensor>{g[0]}; });
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>(checked());
  impl->autograd.reset();
  return Tensor(std::move(impl));
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = detail::make_tensor(shape(), target, device());
  detail::run(KILN_OP_CAST, device(), {*this}, {out});
  DType from = dtype();
  if (!is_floating(target)) return out;
  return with_backward("to", *this, out, [from](const std::vector<Tensor>& g) { return std::vector<Tensor>{g[0].to(from)}; });
}

Tensor Tensor::to(const Device& target, bool non_blocking) const {
  if (target == device()) return *this;
  Device from = device();
  Tensor out;
  if (target.is_host() && device().is_host()) {
    out = make_view(*this, shape(), strides(), offset());  // one memory domain: no copy
    out.impl()->device = target;
  } else {
    // Note [Transfers] in transfer.cpp: storage to storage, no host detour through a vector
    Tensor src = contiguous();
    out = detail::make_tensor(shape(), dtype(), target);
    const size_t element = dtype_size(dtype());
    detail::copy_storage(*src.impl()->storage, static_cast<size_t>(src.offset()) * element, *out.impl()->storage, 0,
                         static_cast<size_t>(numel()) * element, non_blocking);
  }
  return with_backward("to", *this, out, [from](const std::vector<Tensor>& g) { return std::vector<Tensor>{g[0].to(from)}; });
}

template <typename T>
T Tensor::item() const {
  KILN_CHECK(numel() == 1, ValueError, "item(): expected a tensor with one element, got shape ", shape());
  T result{};
  visit_dtype(dtype(), [&](auto tag) {
    using S = decltype(tag);
    S value;
    detail::read_bytes(*this, static_cast<size_t>(offset()) * sizeof(S), &value, sizeof(S));
    result = static_cast<T>(value);
  });
  return result;
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor src = contiguous();
  std::vector<T> out(static_cast<size_t>(numel()));
  visit_dtype(dtype(), [&](auto tag) {
    using S = decltype(tag);
    std::vector<S> raw(out.size());
    if constexpr (std::is_same_v<S, bool>) {
      std::vector<unsigned char> bytes(out.size());
      detail::read_bytes(src, static_cast<size_t>(src.offset()), bytes.data(), bytes.size());
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(bytes[i] != 0);
    } else {
      detail::read_bytes(src, static_cast<size_t>(src.offset()) * sizeof(S), raw.data(), raw.size() * sizeof(S));
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(raw[i]);
    }
  });
  return out;
}

#define KILN_INSTANTIATE(T)                      \
  template T Tensor::item<T>() const;            \
  template std::vector<T> Tensor::to_vector<T>() const;
KILN_INSTANTIATE(float)
KILN_INSTANTIATE(double)
KILN_INSTANTIATE(int32_t)
KILN_INSTANTIATE(int64_t)
KILN_INSTANTIATE(uint8_t)
KILN_INSTANTIATE(bool)
#undef KILN_INSTANTIATE

Tensor& Tensor::fill_(double value) {
  kiln_scalar_attrs attrs{KILN_ATTRS_HEAD(kiln_scalar_attrs), value, 0.0};
  detail::run(KILN_OP_FILL, device(), {}, {*this}, &attrs);
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  Tensor s = src.detach();
  if (s.device() != device()) s = s.to(device());
  if (s.dtype() != dtype()) s = s.to(dtype());
  if (s.shape() != shape()) s = s.expand(shape());
  detail::run(KILN_OP_COPY, device(), {s}, {*this});
  return *this;
}

// ---- method forms of common ops ----
Tensor Tensor::sum() const { return kiln::sum(*this); }
Tensor Tensor::sum(const std::vector<int64_t>& axes, bool keepdim) const { return kiln::sum(*this, axes, keepdim); }
Tensor Tensor::mean() const { return kiln::mean(*this); }
Tensor Tensor::mean(const std::vector<int64_t>& axes, bool keepdim) const { return kiln::mean(*this, axes, keepdim); }
Tensor Tensor::max() const { return kiln::amax(*this); }
Tensor Tensor::min() const { return kiln::amin(*this); }
Tensor Tensor::argmax(int64_t axis, bool keepdim) const { return kiln::argmax(*this, axis, keepdim); }
Tensor Tensor::exp() const { return kiln::exp(*this); }
Tensor Tensor::log() const { return kiln::log(*this); }
Tensor Tensor::sqrt() const { return kiln::sqrt(*this); }
Tensor Tensor::abs() const { return kiln::abs(*this); }
Tensor Tensor::relu() const { return kiln::relu(*this); }
Tensor Tensor::pow(double exponent) const { return kiln::pow(*this, exponent); }
Tensor Tensor::matmul(const Tensor& other) const { return kiln::matmul(*this, other); }

}  // namespace kiln
