// Shared by the tbb backend's kernel tests: the tbb and ref plugins loaded through the C ABI, host
// tensors (optionally strided views into a larger buffer) and launches of one op on both, so a
// fast path of tbb is compared against the reference backend on the same descriptors.
#ifndef KILN_TESTS_BACKENDS_TBB_TBB_VS_REF_HPP
#define KILN_TESTS_BACKENDS_TBB_TBB_VS_REF_HPP

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <kiln/plugin/kiln_backend.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#if !defined(KILN_TBB_PLUGIN_PATH) || !defined(KILN_REF_PLUGIN_PATH)
#error "KILN_TBB_PLUGIN_PATH and KILN_REF_PLUGIN_PATH must name the built plugins"
#endif

namespace kiln_tbb_test {

struct Plugin {
  const kiln_backend_api* api = nullptr;
  kiln_stream_t stream = nullptr;
  std::string device_name;

  explicit Plugin(const char* path) {
    void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);  // never closed: plugins stay loaded
    if (lib == nullptr) {
      ADD_FAILURE() << "dlopen(" << path << ") failed: " << dlerror();
      return;
    }
    auto init = reinterpret_cast<kiln_backend_init_fn>(dlsym(lib, KILN_BACKEND_INIT_SYMBOL));
    if (init == nullptr) {
      ADD_FAILURE() << path << " has no " << KILN_BACKEND_INIT_SYMBOL;
      return;
    }
    static kiln_host_api host{sizeof(kiln_host_api), KILN_ABI_VERSION, "0.1.0", nullptr};
    if (init(&host, KILN_ABI_VERSION, &api) != KILN_STATUS_OK) {
      ADD_FAILURE() << path << ": init failed";
      api = nullptr;
      return;
    }
    kiln_device_t device = nullptr;
    api->device_get(api->backend, 0, &device);
    kiln_device_props props{};
    props.struct_size = sizeof(props);
    props.abi_version = KILN_ABI_VERSION;
    if (api->device_props(device, &props) == KILN_STATUS_OK) device_name = props.name;
    api->stream_create(device, &stream);
  }
  kiln_status launch(kiln_op op, const std::vector<kiln_tensor_desc>& in, const std::vector<kiln_tensor_desc>& out,
                     const void* attrs) const {
    kiln_launch_desc l{};
    l.struct_size = sizeof(l);
    l.op = op;
    l.num_inputs = static_cast<int32_t>(in.size());
    l.num_outputs = static_cast<int32_t>(out.size());
    l.tensor_desc_size = sizeof(kiln_tensor_desc);
    l.inputs = in.data();
    l.outputs = out.data();
    l.attrs = attrs;
    return api->launch_v2(stream, &l);
  }
  std::string last_error() const { return api->last_error(api->backend); }
};

inline const Plugin& tbb() {
  static const Plugin p(KILN_TBB_PLUGIN_PATH);
  return p;
}
inline const Plugin& ref() {
  static const Plugin p(KILN_REF_PLUGIN_PATH);
  return p;
}

template <class T>
constexpr int32_t dtype_of() {
  if constexpr (std::is_same_v<T, float>) return KILN_DTYPE_FLOAT32;
  if constexpr (std::is_same_v<T, double>) return KILN_DTYPE_FLOAT64;
  if constexpr (std::is_same_v<T, int64_t>) return KILN_DTYPE_INT64;
}

// A tensor of `shape` stored in a vector, row-major; `pad_last` extra elements after each
// innermost row and `offset` leading elements make it a non-contiguous view; `tail` extra
// elements after the last one are guards (see guards_intact).
template <class T>
struct HostTensor {
  std::vector<T> storage;
  kiln_tensor_desc desc{};

  explicit HostTensor(std::vector<int64_t> shape, int64_t pad_last = 0, int64_t offset = 0, int64_t tail = 0) {
    desc.struct_size = sizeof(kiln_tensor_desc);
    desc.dtype = dtype_of<T>();
    desc.ndim = static_cast<int32_t>(shape.size());
    desc.offset = offset;
    int64_t stride = 1;
    for (int32_t d = desc.ndim - 1; d >= 0; --d) {
      desc.shape[d] = shape[d];
      desc.strides[d] = stride;
      stride *= d == desc.ndim - 1 ? shape[d] + pad_last : shape[d];
    }
    storage.assign(static_cast<size_t>(stride + offset + tail), T(0));
    desc.data = storage.data();
    for (int64_t i = 0; i < offset; ++i) storage[static_cast<size_t>(i)] = kGuard;
    for (int64_t i = 0; i < tail; ++i) storage[static_cast<size_t>(stride + offset + i)] = kGuard;
  }
  static constexpr T kGuard = T(-777);
  // No kernel wrote before the first element or after the last (a tensor made with pad_last 0).
  bool guards_intact() const {
    const int64_t end = desc.offset + numel();
    for (int64_t i = 0; i < static_cast<int64_t>(storage.size()); ++i)
      if ((i < desc.offset || i >= end) && storage[static_cast<size_t>(i)] != kGuard) return false;
    return true;
  }
  HostTensor(const HostTensor& other) : storage(other.storage), desc(other.desc) { desc.data = storage.data(); }
  HostTensor& operator=(const HostTensor&) = delete;

  int64_t numel() const {
    int64_t n = 1;
    for (int32_t d = 0; d < desc.ndim; ++d) n *= desc.shape[d];
    return n;
  }
  // Element i in logical row-major order.
  T& at(int64_t i) {
    int64_t pos = desc.offset;
    for (int32_t d = desc.ndim - 1; d >= 0; --d) {
      pos += (i % desc.shape[d]) * desc.strides[d];
      i /= desc.shape[d];
    }
    return storage[static_cast<size_t>(pos)];
  }
  std::vector<T> values() {
    std::vector<T> v(static_cast<size_t>(numel()));
    for (int64_t i = 0; i < numel(); ++i) v[static_cast<size_t>(i)] = at(i);
    return v;
  }
};

// Bitwise-equal floats, except that NaN equals NaN and -0 equals +0 (a scatter adds into +0).
template <class T>
bool same_value(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  }
  return a == b;
}

template <class T>
void expect_same(const std::vector<T>& got, const std::vector<T>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!same_value(got[i], want[i]) && reported++ < 5)
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << " on tbb, " << want[i] << " on ref";
}

template <class T>
void expect_close(const std::vector<T>& got, const std::vector<T>& want, double rtol, double atol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    const bool ok = std::isnan(w) ? std::isnan(g) : std::abs(g - w) <= atol + rtol * std::abs(w);
    if (!ok && reported++ < 5) ADD_FAILURE() << what << ": element " << i << " is " << g << " on tbb, " << w << " on ref";
  }
}

}  // namespace kiln_tbb_test

#endif  // KILN_TESTS_BACKENDS_TBB_TBB_VS_REF_HPP
