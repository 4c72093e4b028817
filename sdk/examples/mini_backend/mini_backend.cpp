// A minimal out-of-tree backend plugin: five float32 ops (add, mul, relu, fill, copy) on host
// memory, written with the header-only kit kiln/plugin/host_backend.hpp. Every other op runs on
// another host backend by fallback (host backends share one memory domain, so nothing is copied).
//
//   kiln-conformance kiln_backend_mini.so      # checks the five ops against the reference backend
//   KILN_PLUGIN_PATH=$PWD KILN_BACKEND=mini ./my_app
//
// It depends only on the C ABI headers: no libkiln, no exception across the boundary (the kit
// turns a thrown kiln::plugin::Failure into a status plus message). docs/writing-a-backend.md
// walks through it.
#include <kiln/plugin/host_backend.hpp>

#include <algorithm>
#include <cstdint>

namespace {

// Visits every element of a shape in row-major order, calling fn(index array).
template <typename Fn>
void for_each_index(int32_t ndim, const int64_t* shape, Fn&& fn) {
  int64_t numel = 1;
  for (int32_t k = 0; k < ndim; ++k) numel *= shape[k];
  if (numel == 0) return;
  int64_t index[KILN_MAX_DIMS] = {0};
  for (int64_t n = 0; n < numel; ++n) {
    fn(index);
    for (int32_t k = ndim - 1; k >= 0; --k) {  // odometer increment
      if (++index[k] < shape[k]) break;
      index[k] = 0;
    }
  }
}

float& at(const kiln_tensor_desc& d, const int64_t* index) {
  return kiln::plugin::typed<float>(d)[kiln::plugin::element_offset(d, index)];
}

class MiniBackend final : public kiln::plugin::HostBackend {
 public:
  // Priority 5: below ref (10), so dropping the plugin in a folder never makes it the "cpu"
  // default; choose it by name (KILN_BACKEND=mini, Device("mini")).
  MiniBackend() : HostBackend("mini", "1.0.0", /*priority=*/5) {}

  bool supports(kiln_op op, const int32_t* dtypes, int32_t num_dtypes, const void*) override {
    switch (op) {
      case KILN_OP_ADD: case KILN_OP_MUL: case KILN_OP_RELU: case KILN_OP_FILL: case KILN_OP_COPY:
        return std::all_of(dtypes, dtypes + num_dtypes, [](int32_t t) { return t == KILN_DTYPE_FLOAT32; });
      default:
        return false;  // the host runs it on the next host backend
    }
  }

  void launch(kiln_op op, const kiln_tensor_desc* in, int32_t, const kiln_tensor_desc* out, int32_t,
              const void* attrs) override {
    const kiln_tensor_desc& dst = out[0];
    switch (op) {
      case KILN_OP_ADD:  // inputs come broadcast to the output shape (stride 0 where expanded)
        for_each_index(dst.ndim, dst.shape, [&](const int64_t* i) { at(dst, i) = at(in[0], i) + at(in[1], i); });
        return;
      case KILN_OP_MUL:
        for_each_index(dst.ndim, dst.shape, [&](const int64_t* i) { at(dst, i) = at(in[0], i) * at(in[1], i); });
        return;
      case KILN_OP_RELU:  // NaN stays NaN, as in the reference backend
        for_each_index(dst.ndim, dst.shape, [&](const int64_t* i) {
          float v = at(in[0], i);
          at(dst, i) = v < 0.0f ? 0.0f : v;
        });
        return;
      case KILN_OP_FILL: {  // dst may be any strided view
        if (attrs == nullptr) kiln::plugin::fail(KILN_STATUS_INVALID_ARGUMENT, "fill: no attributes");
        const float value = static_cast<float>(static_cast<const kiln_scalar_attrs*>(attrs)->a);
        for_each_index(dst.ndim, dst.shape, [&](const int64_t* i) { at(dst, i) = value; });
        return;
      }
      case KILN_OP_COPY:
        for_each_index(dst.ndim, dst.shape, [&](const int64_t* i) { at(dst, i) = at(in[0], i); });
        return;
      default:
        kiln::plugin::fail(KILN_STATUS_UNSUPPORTED, "mini backend: op ", static_cast<int>(op), " is not implemented");
    }
  }

  std::string device_name() const override { return "host CPU (mini example backend, 1 thread)"; }
  int32_t compute_units() const override { return 1; }
};

}  // namespace

KILN_EXPORT_HOST_BACKEND(MiniBackend)
