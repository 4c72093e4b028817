// The blas backend: MATMUL and CONV2D (+ backwards) on OpenBLAS; supports() refuses every other
// op, and the host runs those on the next host backend (tbb) in the same memory, with no copy.
#include <cstdlib>
#include <string>

#include "blas_common.hpp"

namespace kiln::blas {
namespace {

bool is_handled(kiln_op op) {
  return op == KILN_OP_MATMUL || op == KILN_OP_CONV2D || op == KILN_OP_CONV2D_BACKWARD_INPUT ||
         op == KILN_OP_CONV2D_BACKWARD_WEIGHT;
}

class BlasBackend final : public plugin::HostBackend {
 public:
  BlasBackend() : HostBackend("blas", "0.1.0", 30) {}

  void initialize(const kiln_host_api* host) override {
    HostBackend::initialize(host);
    if (const char* env = std::getenv("KILN_NUM_THREADS")) {
      char* end = nullptr;
      const long v = std::strtol(env, &end, 10);
      if (end != env && *end == '\0' && v >= 1 && v <= 4096) openblas_set_num_threads(static_cast<int>(v));
    }
  }
  std::string device_name() const override {
    return "host CPU (OpenBLAS, " + std::to_string(openblas_get_num_threads()) + " threads)";
  }
  int32_t compute_units() const override { return openblas_get_num_threads(); }

  // MATMUL and CONV2D (+ backwards) in float32 and float64; the host runs the rest on tbb, and
  // float16/bfloat16 on ref.
  bool supports(kiln_op op, const int32_t* dtypes, int32_t num_dtypes, const void*) override {
    if (!is_handled(op) || !kiln_op_takes(op, dtypes, num_dtypes)) return false;
    return dtypes[0] == KILN_DTYPE_FLOAT32 || dtypes[0] == KILN_DTYPE_FLOAT64;
  }

  // The kit has validated the launch (Note [Kit launch validation]): counts, dtypes, attrs present.
  void launch(kiln_op op, const Desc* in, int32_t num_inputs, const Desc* out, int32_t num_outputs,
              const void* attrs) override {
    if (!is_handled(op))
      fail(KILN_STATUS_UNSUPPORTED, "blas: ", op_name(op), " is not implemented (the host runs it on tbb)");
    int32_t dtypes[3] = {in[0].dtype, in[1].dtype, out[0].dtype};
    if (num_inputs != 2 || num_outputs != 1 || !supports(op, dtypes, 3, attrs))
      fail(KILN_STATUS_UNSUPPORTED, "blas: ", op_name(op), " supports float32 and float64 only");
    if (op == KILN_OP_MATMUL) return launch_matmul(in[0], in[1], out[0]);
    launch_conv(op, in[0], in[1], out[0], *static_cast<const kiln_conv2d_attrs*>(attrs));
  }
};

}  // namespace


}  // namespace kiln::blas

KILN_EXPORT_HOST_BACKEND(kiln::blas::BlasBackend)
