// A minimal working backend for the loader tests: ADD, FILL and COPY on float32, any strides.
// It also exports kiln_test_launch_count() so a test can prove that its ops ran here and not on a
// fallback backend.
#include <kiln/plugin/host_backend.hpp>

#include <atomic>

namespace {

std::atomic<uint64_t> launches{0};

// Calls fn(element offset in each descriptor) for every element of out's shape, in row-major order.
template <typename Fn>
void for_each_element(const kiln_tensor_desc& out, const kiln_tensor_desc* in, int32_t num_in, Fn&& fn) {
  int64_t index[KILN_MAX_DIMS] = {};
  int64_t n = kiln_desc_numel(&out);
  for (int64_t i = 0; i < n; ++i) {
    int64_t offsets[3] = {};
    for (int32_t k = 0; k < num_in; ++k) offsets[k] = kiln::plugin::element_offset(in[k], index);
    fn(kiln::plugin::element_offset(out, index), offsets);
    for (int32_t d = out.ndim - 1; d >= 0; --d) {
      if (++index[d] < out.shape[d]) break;
      index[d] = 0;
    }
  }
}

class TestGoodBackend final : public kiln::plugin::HostBackend {
 public:
  TestGoodBackend() : HostBackend("testgood", "1.2.3", /*priority=*/1) {}
  std::string device_name() const override { return "loader test device"; }
  int32_t compute_units() const override { return 1; }

  bool supports(kiln_op op, const int32_t* dtypes, int32_t num_dtypes, const void*) override {
    if (op != KILN_OP_ADD && op != KILN_OP_FILL && op != KILN_OP_COPY) return false;
    for (int32_t i = 0; i < num_dtypes; ++i)
      if (dtypes[i] != KILN_DTYPE_FLOAT32) return false;
    return true;
  }

  void launch(kiln_op op, const kiln_tensor_desc* in, int32_t num_in, const kiln_tensor_desc* out, int32_t num_out,
              const void* attrs) override {
    if (num_out != 1) kiln::plugin::fail(KILN_STATUS_INVALID_ARGUMENT, "testgood: expected one output");
    float* dst = kiln::plugin::typed<float>(out[0]);
    switch (op) {
      case KILN_OP_ADD: {
        const float* a = kiln::plugin::typed<float>(in[0]);
        const float* b = kiln::plugin::typed<float>(in[1]);
        for_each_element(out[0], in, num_in, [&](int64_t o, const int64_t* i) { dst[o] = a[i[0]] + b[i[1]]; });
        break;
      }
      case KILN_OP_FILL: {
        float value = static_cast<float>(static_cast<const kiln_scalar_attrs*>(attrs)->a);
        for_each_element(out[0], in, 0, [&](int64_t o, const int64_t*) { dst[o] = value; });
        break;
      }
      case KILN_OP_COPY: {
        const float* src = kiln::plugin::typed<float>(in[0]);
        for_each_element(out[0], in, num_in, [&](int64_t o, const int64_t* i) { dst[o] = src[i[0]]; });
        break;
      }
      default: kiln::plugin::fail(KILN_STATUS_UNSUPPORTED, "testgood: op ", static_cast<int>(op), " is not supported");
    }
    ++launches;
  }
};

}  // namespace

KILN_EXPORT_HOST_BACKEND(TestGoodBackend)

extern "C" KILN_PLUGIN_EXPORT uint64_t kiln_test_launch_count(void) { return launches.load(); }
