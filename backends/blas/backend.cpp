// The blas backend: MATMUL and CONV2D (+ backwards) on OpenBLAS; supports() refuses every other
// op, and the host runs those on the next host backend (tbb) in the same memory, with no copy.
#include <cstdlib>
#include <string>

#include "common.hpp"

namespace kiln::blas {
namespace {

struct OpInfo {
  const char* name;
  int32_t num_inputs;
  int32_t num_outputs;
};
constexpr OpInfo kOps[] = {
#define KILN_OP(id, name, nin, nout, attrs, kind) {name, nin, nout},
#include <kiln/plugin/ops.def>
#undef KILN_OP
};
static_assert(sizeof(kOps) / sizeof(kOps[0]) == KILN_OP_COUNT);

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

  bool supports(kiln_op op, const int32_t* dtypes, int32_t num_dtypes, const void*) override {
    if (op < 0 || op >= KILN_OP_COUNT || dtypes == nullptr || !is_handled(op)) return false;
    if (num_dtypes != kOps[op].num_inputs + kOps[op].num_outputs) return false;
    const int32_t t = dtypes[0];
    if (t != KILN_DTYPE_FLOAT32 && t != KILN_DTYPE_FLOAT64) return false;
    for (int32_t i = 1; i < num_dtypes; ++i)
      if (dtypes[i] != t) return false;
    return true;
  }

  void launch(kiln_op op, const Desc* in, int32_t num_inputs, const Desc* out, int32_t num_outputs,
              const void* attrs) override {
    if (op < 0 || op >= KILN_OP_COUNT || !is_handled(op))
      fail(KILN_STATUS_UNSUPPORTED, "blas: ", op_name(op), " is not implemented (the host runs it on tbb)");
    if (num_inputs != kOps[op].num_inputs || num_outputs != kOps[op].num_outputs)
      fail(KILN_STATUS_INVALID_ARGUMENT, "blas: ", op_name(op), " takes ", kOps[op].num_inputs, " inputs and ",
           kOps[op].num_outputs, " outputs, got ", num_inputs, " and ", num_outputs);
    int32_t dtypes[3] = {in[0].dtype, in[1].dtype, out[0].dtype};
    if (!supports(op, dtypes, 3, attrs))
      fail(KILN_STATUS_UNSUPPORTED, "blas: ", op_name(op), " supports float32 and float64 only");
    if (op == KILN_OP_MATMUL) return launch_matmul(in[0], in[1], out[0]);
    if (attrs == nullptr) fail(KILN_STATUS_INVALID_ARGUMENT, "blas: ", op_name(op), " needs kiln_conv2d_attrs");
    launch_conv(op, in[0], in[1], out[0], *static_cast<const kiln_conv2d_attrs*>(attrs));
  }
};

}  // namespace

const char* op_name(kiln_op op) { return op >= 0 && op < KILN_OP_COUNT ? kOps[op].name : "unknown op"; }

}  // namespace kiln::blas

KILN_EXPORT_HOST_BACKEND(kiln::blas::BlasBackend)
