// Printing in PyTorch's style: tensor([[1., 2.], [3., 4.]]), eliding the middle of large tensors.
#include <kiln/autograd.hpp>
#include <kiln/tensor.hpp>

#include <cmath>
#include <cstdio>
#include <sstream>

namespace kiln {

namespace {

constexpr int64_t kThreshold = 1000;  // elide above this many elements
constexpr int64_t kEdge = 3;           // items kept at each end of an elided axis

struct Formatter {
  DType dtype;
  bool integral_floats = true;
  bool scientific = false;
  int width = 1;

  std::string format(double v) const {
    char buf[64];
    if (dtype == DType::Bool) return v != 0 ? "True" : "False";
    if (!is_floating(dtype)) {
      std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(v));
      return buf;
    }
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (scientific) {
      std::snprintf(buf, sizeof(buf), "%.4e", v);
    } else if (integral_floats) {
      std::snprintf(buf, sizeof(buf), "%.0f.", v);
    } else {
      std::snprintf(buf, sizeof(buf), "%.4f", v);
    }
    return buf;
  }
};

void render(std::ostringstream& os, const std::vector<double>& flat, const Shape& shape, const Shape& strides,
            int64_t axis, int64_t base, bool elide, const Formatter& f, int indent) {
  int64_t n = shape[axis];
  os << "[";
  bool last_axis = axis == shape.size() - 1;
  auto emit_item = [&](int64_t i) {
    if (last_axis) {
      std::string s = f.format(flat[base + i * strides[axis]]);
      os << std::string(f.width > static_cast<int>(s.size()) ? f.width - s.size() : 0, ' ') << s;
    } else {
      render(os, flat, shape, strides, axis + 1, base + i * strides[axis], elide, f, indent + 1);
    }
  };
  std::string sep(",");
  if (last_axis) {
    sep.push_back(' ');
  } else {
    sep.append(static_cast<size_t>(shape.size() - axis - 1), '\n');
    sep.append(static_cast<size_t>(indent + 1), ' ');
  }
  bool cut = elide && n > 2 * kEdge;
  for (int64_t i = 0; i < n; ++i) {
    if (cut && i == kEdge) {
      os << (last_axis ? " ..." : "...") << sep;  // PyTorch pads the elided item of the last axis
      i = n - kEdge;
    }
    emit_item(i);
    if (i + 1 < n) os << sep;
  }
  os << "]";
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  Tensor t = detach().contiguous();
  std::vector<double> flat = t.to_vector<double>();
  Formatter f{dtype()};
  double max_abs = 0, min_abs = INFINITY;
  for (double v : flat) {
    if (!std::isfinite(v)) continue;
    if (v != std::floor(v)) f.integral_floats = false;
    max_abs = std::max(max_abs, std::fabs(v));
    if (v != 0) min_abs = std::min(min_abs, std::fabs(v));
  }
  if (is_floating(dtype()) && max_abs > 0 &&
      (max_abs >= 1e8 || (!f.integral_floats && (min_abs < 1e-4 || max_abs / min_abs > 1000)))) {
    f.scientific = true;
  }
  bool elide = numel() > kThreshold;
  // As PyTorch: the column width comes from the finite values; inf and nan are not padded for.
  for (double v : flat)
    if (std::isfinite(v)) f.width = std::max(f.width, static_cast<int>(f.format(v).size()));
  std::ostringstream os;
  os << "tensor(";
  if (dim() == 0) {
    os << f.format(flat[0]);
  } else if (numel() == 0) {
    os << "[]";
  } else {
    render(os, flat, shape(), contiguous_strides(shape()), 0, 0, elide, f, 7);
  }
  if (numel() == 0 && dim() != 1) {
    os << ", size=(";
    for (int64_t i = 0; i < dim(); ++i) os << (i ? ", " : "") << shape()[i];
    os << (dim() == 1 ? ",)" : ")");
  }
  if (dtype() != DType::Float32 && dtype() != DType::Int64 && dtype() != DType::Bool) os << ", dtype=" << dtype_name(dtype());
  if (device() != default_device()) os << ", device='" << device().str() << "'";
  if (grad_fn()) {
    os << ", grad_fn=<" << grad_fn()->name << ">";
  } else if (requires_grad()) {
    os << ", requires_grad=True";
  }
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace kiln
