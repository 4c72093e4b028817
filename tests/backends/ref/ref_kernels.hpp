// Shared by the reference backend's kernel tests (ref_*_test.cpp): the plugin loaded once through
// the C ABI, host tensors whose descriptors point at vectors, launch() and value checks.
#ifndef KILN_TESTS_BACKENDS_REF_REF_KERNELS_HPP
#define KILN_TESTS_BACKENDS_REF_REF_KERNELS_HPP

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <kiln/plugin/kiln_backend.h>
#include <kiln/plugin/philox.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#ifndef KILN_REF_PLUGIN_PATH
#error "KILN_REF_PLUGIN_PATH must name the built kiln_backend_ref plugin"
#endif

namespace kiln_ref_test {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr float kInfF = std::numeric_limits<float>::infinity();
constexpr float kNaNF = std::numeric_limits<float>::quiet_NaN();

// ---- the plugin, loaded once ----
inline const kiln_backend_api* api() {
  static const kiln_backend_api* table = [] {
    void* lib = dlopen(KILN_REF_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      ADD_FAILURE() << "dlopen failed: " << dlerror();
      return static_cast<const kiln_backend_api*>(nullptr);
    }
    auto init = reinterpret_cast<kiln_backend_init_fn>(dlsym(lib, KILN_BACKEND_INIT_SYMBOL));
    if (init == nullptr) return static_cast<const kiln_backend_api*>(nullptr);
    static kiln_host_api host{sizeof(kiln_host_api), KILN_ABI_VERSION, "0.1.0", nullptr};
    const kiln_backend_api* out = nullptr;
    if (init(&host, KILN_ABI_VERSION, &out) != KILN_STATUS_OK)
      return static_cast<const kiln_backend_api*>(nullptr);
    return out;  // plugins are never unloaded
  }();
  return table;
}

inline kiln_device_t device() {
  static kiln_device_t d = [] {
    kiln_device_t out = nullptr;
    api()->device_get(api()->backend, 0, &out);
    return out;
  }();
  return d;
}

inline kiln_stream_t stream() {
  static kiln_stream_t s = [] {
    kiln_device_t device = nullptr;
    kiln_stream_t st = nullptr;
    api()->device_get(api()->backend, 0, &device);
    api()->stream_create(device, &st);
    return st;
  }();
  return s;
}

inline std::string last_error() {
  return api()->last_error(api()->backend);
}

// ---- host tensors: the ref device is host memory, so descriptors point at vectors ----
template <class T>
constexpr int32_t dtype_of() {
  if constexpr (std::is_same_v<T, float>) return KILN_DTYPE_FLOAT32;
  if constexpr (std::is_same_v<T, double>) return KILN_DTYPE_FLOAT64;
  if constexpr (std::is_same_v<T, int32_t>) return KILN_DTYPE_INT32;
  if constexpr (std::is_same_v<T, int64_t>) return KILN_DTYPE_INT64;
  if constexpr (std::is_same_v<T, uint8_t>) return KILN_DTYPE_UINT8;
}

// Owns its storage; desc views it (contiguous unless a test edits strides/offset).
template <class T>
struct Tensor {
  std::vector<T> data;
  kiln_tensor_desc desc{};

  Tensor(std::vector<int64_t> shape, std::vector<T> values, int32_t dtype = dtype_of<T>())
      : data(std::move(values)) {
    desc.struct_size = sizeof(kiln_tensor_desc);
    desc.dtype = dtype;
    desc.ndim = static_cast<int32_t>(shape.size());
    int64_t stride = 1;
    for (int32_t d = desc.ndim - 1; d >= 0; --d) {
      desc.shape[d] = shape[d];
      desc.strides[d] = stride;
      stride *= shape[d];
    }
    if (data.empty()) data.resize(static_cast<size_t>(stride), T{});
    desc.data = data.data();
  }
  Tensor(const Tensor&) = delete;  // desc points into data
  Tensor& operator=(const Tensor&) = delete;
  // A zero-filled output of this shape.
  static Tensor zeros(std::vector<int64_t> shape, int32_t dtype = dtype_of<T>()) {
    return Tensor(shape, {}, dtype);
  }
};

inline kiln_status launch(kiln_op op, std::initializer_list<kiln_tensor_desc> inputs,
                   std::initializer_list<kiln_tensor_desc> outputs, const void* attrs = nullptr) {
  std::vector<kiln_tensor_desc> in(inputs), out(outputs);
  kiln_launch_desc l{};
  l.struct_size = sizeof(l);
  l.op = op;
  l.num_inputs = static_cast<int32_t>(in.size());
  l.num_outputs = static_cast<int32_t>(out.size());
  l.tensor_desc_size = sizeof(kiln_tensor_desc);
  l.inputs = in.data();
  l.outputs = out.data();
  l.attrs = attrs;
  return api()->launch_v2(stream(), &l);
}
#define EXPECT_LAUNCH_OK(...) ASSERT_EQ(launch(__VA_ARGS__), KILN_STATUS_OK) << last_error()

template <class T>
void expect_near_all(const std::vector<T>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(static_cast<double>(got[i]))) << "element " << i;
    } else if (std::isinf(want[i])) {
      EXPECT_EQ(static_cast<double>(got[i]), want[i]) << "element " << i;
    } else {
      EXPECT_NEAR(static_cast<double>(got[i]), want[i], tol) << "element " << i;
    }
  }
}

inline kiln_reduce_attrs reduce_axes(std::initializer_list<int32_t> axes, double correction = 0) {
  kiln_reduce_attrs a = kiln_reduce_attrs_init();
  for (int32_t axis : axes) a.axes[a.num_axes++] = axis;
  a.correction = correction;
  return a;
}

inline kiln_conv2d_attrs conv_attrs(int64_t stride, int64_t padding, int64_t dilation, int64_t groups) {
  return kiln_conv2d_attrs{KILN_ATTRS_HEAD(kiln_conv2d_attrs), {stride, stride}, {padding, padding}, {dilation, dilation}, groups};
}

}  // namespace kiln_ref_test

#endif  // KILN_TESTS_BACKENDS_REF_REF_KERNELS_HPP
