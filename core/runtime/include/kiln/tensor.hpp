// kiln::Tensor: a shared handle to storage on a device plus shape, strides, offset and dtype.
//
// Copies of a Tensor share everything (like torch::Tensor); views (reshape, permute, slice, ...)
// share storage. Elementwise ops broadcast like NumPy. Printing follows PyTorch's style.
#pragma once

#include <kiln/device.hpp>
#include <kiln/dtype.hpp>
#include <kiln/shape.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace kiln {

namespace detail {
struct Storage;
}
namespace autograd {
struct AutogradMeta;
struct Node;
}  // namespace autograd

class Tensor;

struct TensorImpl {
  std::shared_ptr<detail::Storage> storage;
  Shape shape;
  Shape strides;  // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::Float32;
  Device device;
  std::shared_ptr<autograd::AutogradMeta> autograd;
};

// Options for factories: dtype and device (defaults: float32, default_device()).
struct TensorOptions {
  DType dtype = DType::Float32;
  std::optional<Device> device;
};

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() is false
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

  // ---- metadata ----
  DType dtype() const { return checked().dtype; }
  const Shape& shape() const { return checked().shape; }
  const Shape& strides() const { return checked().strides; }
  int64_t offset() const { return checked().offset; }
  int64_t dim() const { return checked().shape.size(); }
  // Extent of one axis (negative counts from the end).
  int64_t size(int64_t axis) const;
  int64_t numel() const { return checked().shape.numel(); }
  const Device& device() const { return checked().device; }
  bool is_contiguous() const;
  bool shares_storage(const Tensor& o) const;
  std::string str() const;  // PyTorch-style text, e.g. "tensor([1., 2.])"

  // ---- views: share storage ----
  Tensor view(const Shape& shape) const;  // -1 infers one extent; needs compatible strides
  Tensor reshape(const Shape& shape) const;  // a view when possible, else a copy
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t a, int64_t b) const;
  Tensor t() const;  // transpose of a matrix (<= 2-D)
  // Elements start, start+step, ... < end along axis (negative start/end count from the end; clamped).
  Tensor slice(int64_t axis, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor narrow(int64_t axis, int64_t start, int64_t length) const;
  Tensor select(int64_t axis, int64_t index) const;  // drops the axis
  Tensor operator[](int64_t index) const { return select(0, index); }
  Tensor squeeze() const;
  Tensor squeeze(int64_t axis) const;
  Tensor unsqueeze(int64_t axis) const;
  Tensor expand(const Shape& shape) const;  // -1 keeps an extent; new leading axes allowed
  Tensor flatten(int64_t start_axis = 0, int64_t end_axis = -1) const;
  Tensor contiguous() const;  // itself when already contiguous

  // ---- conversions ----
  // A copy on `device` (itself when already there; a view when both are host memory). The bytes
  // move storage to storage in stream order: host to a GPU through pinned staging buffers, GPU to
  // GPU by a device copy or a peer copy (docs/design-notes.md, "ABI v2 on the host side").
  // non_blocking: a copy to a device runs on the device's side stream, overlapping the kernels
  // already queued, and every later op on the device waits for it (as PyTorch's
  // to(device, non_blocking=True) from pinned memory). The DataLoader's `device` option uses it.
  Tensor to(const Device& device, bool non_blocking = false) const;
  Tensor to(DType dtype) const;
  Tensor clone() const;
  Tensor detach() const;  // shares storage, no autograd history
  // The single element of a one-element tensor, converted to T.
  template <typename T> T item() const;
  // All elements in row-major order, converted to T.
  template <typename T> std::vector<T> to_vector() const;

  // ---- in place ----
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);  // broadcasts src to this shape, converts dtype

  // ---- autograd (see autograd.hpp) ----
  bool requires_grad() const;
  Tensor& set_requires_grad(bool enabled = true);
  Tensor grad() const;  // undefined until a backward pass reaches this leaf
  void set_grad(const Tensor& grad);
  bool is_leaf() const;
  std::shared_ptr<autograd::Node> grad_fn() const;
  // Accumulates d(this)/d(leaves) into leaves' .grad(). A non-scalar needs an explicit gradient.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  // hook(grad) may return a replacement gradient (or an undefined Tensor to keep it).
  void register_hook(std::function<Tensor(const Tensor&)> hook) const;
  void retain_grad() const;

  // ---- common ops as methods (free functions in ops.hpp) ----
  Tensor sum() const;
  Tensor sum(const std::vector<int64_t>& axes, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const std::vector<int64_t>& axes, bool keepdim = false) const;
  Tensor max() const;
  Tensor min() const;
  Tensor argmax(int64_t axis, bool keepdim = false) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor relu() const;
  Tensor pow(double exponent) const;
  Tensor matmul(const Tensor& other) const;

 private:
  const TensorImpl& checked() const;
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- factories ----
Tensor empty(const Shape& shape, const TensorOptions& options = {});
Tensor zeros(const Shape& shape, const TensorOptions& options = {});
Tensor ones(const Shape& shape, const TensorOptions& options = {});
Tensor full(const Shape& shape, double value, const TensorOptions& options = {});
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor empty_like(const Tensor& t);
// [start, end) in steps; default dtype int64 when all three are integral (as PyTorch), else float32.
Tensor arange(double end, const TensorOptions& options = {.dtype = DType::Int64});
Tensor arange(double start, double end, double step = 1.0, const TensorOptions& options = {.dtype = DType::Int64});
Tensor linspace(double start, double end, int64_t steps, const TensorOptions& options = {});
Tensor eye(int64_t n, int64_t m = -1, const TensorOptions& options = {});
// A tensor holding a copy of host values, with the given shape (default 1-D).
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape = {}, const std::optional<Device>& device = {});
Tensor tensor(std::initializer_list<double> values, const TensorOptions& options = {});
Tensor scalar_tensor(double value, const TensorOptions& options = {});

}  // namespace kiln
