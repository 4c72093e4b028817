// Tensor factories and the basic dtype/shape helpers.
#include <kiln/ops.hpp>
#include <kiln/random.hpp>
#include <kiln/tensor.hpp>

#include <cmath>

#include "dispatch.hpp"

namespace kiln {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::UInt8: return "uint8";
    case DType::Bool: return "bool";
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
  }
  return "unknown";
}

DType dtype_from_name(std::string_view name) {
  if (name == "float32" || name == "float") return DType::Float32;
  if (name == "float64" || name == "double") return DType::Float64;
  if (name == "int32" || name == "int") return DType::Int32;
  if (name == "int64" || name == "long") return DType::Int64;
  if (name == "uint8") return DType::UInt8;
  if (name == "bool") return DType::Bool;
  if (name == "float16" || name == "half") return DType::Float16;
  if (name == "bfloat16") return DType::BFloat16;
  throw DTypeError("unknown dtype '" + std::string(name) +
                   "': expected one of float32, float64, int32, int64, uint8, bool, float16, bfloat16");
}

DType promote_types(DType a, DType b) {
  auto rank = [](DType t) {
    switch (t) {
      case DType::Bool: return 0;
      case DType::UInt8: return 1;
      case DType::Int32: return 2;
      case DType::Int64: return 3;
      case DType::Float16: return 4;
      case DType::BFloat16: return 4;
      case DType::Float32: return 5;
      case DType::Float64: return 6;
    }
    return 0;
  };
  if (a != b && is_half(a) && is_half(b)) return DType::Float32;  // neither holds the other
  return rank(a) >= rank(b) ? a : b;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  int64_t n = std::max(a.size(), b.size());
  Shape out;
  out.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    int64_t x = i - (n - a.size()) >= 0 ? a[i - (n - a.size())] : 1;
    int64_t y = i - (n - b.size()) >= 0 ? b[i - (n - b.size())] : 1;
    KILN_CHECK(x == y || x == 1 || y == 1, ShapeError, op, ": shapes ", a, " and ", b,
               " cannot be broadcast (axis ", i, " of the result: ", x, " vs ", y,
               "; extents must be equal or 1)");
    out[i] = x == 1 ? y : x;
  }
  return out;
}

namespace {
Device device_of(const TensorOptions& o) { return o.device ? *o.device : default_device(); }
}  // namespace

Tensor empty(const Shape& shape, const TensorOptions& options) {
  return detail::make_tensor(shape, options.dtype, device_of(options));
}
Tensor full(const Shape& shape, double value, const TensorOptions& options) {
  Tensor t = empty(shape, options);
  t.fill_(value);
  return t;
}
Tensor zeros(const Shape& shape, const TensorOptions& options) { return full(shape, 0.0, options); }
Tensor ones(const Shape& shape, const TensorOptions& options) { return full(shape, 1.0, options); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor full_like(const Tensor& t, double value) {
  return full(t.shape(), value, {.dtype = t.dtype(), .device = t.device()});
}

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape_in, const std::optional<Device>& device) {
  Shape shape = shape_in.empty() && values.size() != 1 ? Shape{static_cast<int64_t>(values.size())} : shape_in;
  KILN_CHECK(shape.numel() == static_cast<int64_t>(values.size()), ShapeError, "from_vector: ", values.size(),
             " values do not fill shape ", shape, " (", shape.numel(), " elements)");
  Tensor t = detail::make_tensor(shape, dtype_of_v<T>, device ? *device : default_device());
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<unsigned char> bytes(values.begin(), values.end());
    detail::write_bytes(t, 0, bytes.data(), bytes.size());
  } else {
    detail::write_bytes(t, 0, values.data(), values.size() * sizeof(T));
  }
  return t;
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, const std::optional<Device>&);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, const std::optional<Device>&);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&, const std::optional<Device>&);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, const std::optional<Device>&);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&, const std::optional<Device>&);
template Tensor from_vector<bool>(const std::vector<bool>&, const Shape&, const std::optional<Device>&);

Tensor tensor(std::initializer_list<double> values, const TensorOptions& options) {
  Tensor t = from_vector(std::vector<double>(values), {static_cast<int64_t>(values.size())}, device_of(options));
  return t.to(options.dtype);
}

Tensor scalar_tensor(double value, const TensorOptions& options) { return full({}, value, options); }

Tensor arange(double end, const TensorOptions& options) { return arange(0.0, end, 1.0, options); }

Tensor arange(double start, double end, double step, const TensorOptions& options) {
  KILN_CHECK(step != 0, ValueError, "arange: step must be non-zero");
  KILN_CHECK(std::isfinite(start) && std::isfinite(end) && std::isfinite(step), ValueError,
             "arange: start, end and step must be finite");
  double count = std::ceil((end - start) / step);
  int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  DType dtype = options.dtype;
  bool integral = start == std::floor(start) && end == std::floor(end) && step == std::floor(step);
  if (dtype == DType::Int64 && !integral) dtype = DType::Float32;
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = start + static_cast<double>(i) * step;
  return from_vector(v, {n}, device_of(options)).to(dtype);
}

Tensor linspace(double start, double end, int64_t steps, const TensorOptions& options) {
  KILN_CHECK(steps >= 0, ValueError, "linspace: steps must be non-negative, got ", steps);
  std::vector<double> v(static_cast<size_t>(steps));
  double delta = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  for (int64_t i = 0; i < steps; ++i) v[i] = i < steps / 2 ? start + delta * i : end - delta * (steps - 1 - i);
  return from_vector(v, {steps}, device_of(options)).to(options.dtype);
}

Tensor eye(int64_t n, int64_t m, const TensorOptions& options) {
  if (m < 0) m = n;
  KILN_CHECK(n >= 0, ValueError, "eye: n must be non-negative, got ", n);
  std::vector<double> v(static_cast<size_t>(n * m), 0.0);
  for (int64_t i = 0; i < std::min(n, m); ++i) v[i * m + i] = 1.0;
  return from_vector(v, {n, m}, device_of(options)).to(options.dtype);
}

}  // namespace kiln
