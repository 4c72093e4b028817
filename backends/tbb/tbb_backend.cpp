// The tbb backend: the fast CPU plugin. This file holds the plugin object, the support table and
// the dispatch from launch() to the op families (one .cpp each).
#include <tbb/global_control.h>
#include <tbb/info.h>

#include <memory>
#include <string>

#include "gemm.hpp"
#include "ops.hpp"

namespace kiln::tbbk {
namespace {

int g_threads = 1;

void check_reduce_attrs(kiln_op op, const Desc& x, const kiln_reduce_attrs& a) {
  bool seen[KILN_MAX_DIMS] = {};
  if (a.num_axes < 1 || a.num_axes > x.ndim)
    fail(KILN_STATUS_INVALID_ARGUMENT, "tbb: ", op_name(op), ": num_axes ", a.num_axes, " not in [1, ", x.ndim, "]");
  for (int i = 0; i < a.num_axes; ++i) {
    if (a.axes[i] < 0 || a.axes[i] >= x.ndim || seen[a.axes[i]])
      fail(KILN_STATUS_INVALID_ARGUMENT, "tbb: ", op_name(op), ": axis ", a.axes[i], " invalid or repeated for a ",
           x.ndim, "-d input");
    seen[a.axes[i]] = true;
  }
}

class TbbBackend final : public plugin::HostBackend {
 public:
  TbbBackend() : HostBackend("tbb", "0.1.0", 20) {}

  void initialize(const kiln_host_api* host) override {
    HostBackend::initialize(host);
    int threads = tbb::info::default_concurrency();
    if (const char* env = std::getenv("KILN_NUM_THREADS")) {
      char* end = nullptr;
      const long v = std::strtol(env, &end, 10);
      if (end != env && *end == '\0' && v >= 1 && v <= 4096) {
        threads = static_cast<int>(v);
        control_ = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                         static_cast<size_t>(threads));
      } else if (host && host->log) {
        host->log(KILN_LOG_WARN, "tbb: ignoring KILN_NUM_THREADS (expected a positive integer)");
      }
    }
    g_threads = std::max(1, std::min<int>(threads, static_cast<int>(
        tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism))));
    (void)sgemm_kernel();
    (void)dgemm_kernel();
  }

  std::string device_name() const override {
    return std::string("host CPU (oneTBB, ") + std::to_string(g_threads) + " threads, " + gemm_isa() + ")";
  }
  int32_t compute_units() const override { return g_threads; }

  // The catalogue's dtypes without float16/bfloat16 (the host runs those on ref). Every attribute
  // value is handled: invalid ones fail in launch with a message.
  bool supports(kiln_op op, const int32_t* dtypes, int32_t num_dtypes, const void*) override {
    if (!kiln_op_takes(op, dtypes, num_dtypes)) return false;
    for (int32_t i = 0; i < num_dtypes; ++i)
      if (kiln_dtype_is_half(dtypes[i])) return false;
    return true;
  }

  // The kit has validated the launch (Note [Kit launch validation]); supports() refuses halves.
  void launch(kiln_op op, const Desc* in, int32_t num_inputs, const Desc* out, int32_t num_outputs,
              const void* attrs) override {
    int32_t dtypes[KILN_OP_MAX_TENSORS];
    for (int i = 0; i < num_inputs; ++i) dtypes[i] = in[i].dtype;
    for (int i = 0; i < num_outputs; ++i) dtypes[num_inputs + i] = out[i].dtype;
    if (!supports(op, dtypes, num_inputs + num_outputs, attrs))
      fail(KILN_STATUS_UNSUPPORTED, "tbb: ", op_name(op), " does not run these dtypes (float16 and bfloat16 run on ref)");
    switch (op) {
      case KILN_OP_NEG: case KILN_OP_ABS: case KILN_OP_SIGN: case KILN_OP_EXP: case KILN_OP_LOG: case KILN_OP_SQRT:
      case KILN_OP_RSQRT: case KILN_OP_SIN: case KILN_OP_COS: case KILN_OP_FLOOR: case KILN_OP_RELU:
      case KILN_OP_SIGMOID: case KILN_OP_TANH: case KILN_OP_GELU: case KILN_OP_ERF: case KILN_OP_LOGICAL_NOT:
        return launch_unary(op, in[0], out[0]);
      case KILN_OP_ADD_SCALAR: case KILN_OP_MUL_SCALAR: case KILN_OP_POW_SCALAR: case KILN_OP_CLAMP:
      case KILN_OP_LEAKY_RELU:
        return launch_scalar_unary(op, in[0], out[0], *static_cast<const kiln_scalar_attrs*>(attrs));
      case KILN_OP_ADD: case KILN_OP_SUB: case KILN_OP_MUL: case KILN_OP_DIV: case KILN_OP_POW:
      case KILN_OP_MAXIMUM: case KILN_OP_MINIMUM: case KILN_OP_GELU_BACKWARD: case KILN_OP_RELU_BACKWARD:
        return launch_binary(op, in[0], in[1], out[0]);
      case KILN_OP_EQ: case KILN_OP_NE: case KILN_OP_LT: case KILN_OP_LE: case KILN_OP_GT: case KILN_OP_GE:
        return launch_compare(op, in[0], in[1], out[0]);
      case KILN_OP_WHERE: return launch_where(in[0], in[1], in[2], out[0]);
      case KILN_OP_MUL_ADD: return launch_mul_add(in[0], in[1], in[2], out[0]);
      case KILN_OP_SUM: case KILN_OP_MEAN: case KILN_OP_PROD: case KILN_OP_MAX: case KILN_OP_MIN:
      case KILN_OP_LOGSUMEXP: case KILN_OP_VAR: {
        const auto& a = *static_cast<const kiln_reduce_attrs*>(attrs);
        check_reduce_attrs(op, in[0], a);
        return launch_reduce(op, in[0], out[0], a);
      }
      case KILN_OP_ARGMAX: case KILN_OP_ARGMIN: {
        const auto& a = *static_cast<const kiln_reduce_attrs*>(attrs);
        check_reduce_attrs(op, in[0], a);
        return launch_argreduce(op, in[0], out[0], a);
      }
      case KILN_OP_MATMUL: return launch_matmul(in[0], in[1], out[0]);
      case KILN_OP_CONV2D: case KILN_OP_CONV2D_BACKWARD_INPUT: case KILN_OP_CONV2D_BACKWARD_WEIGHT:
        return launch_conv(op, in[0], in[1], out[0], *static_cast<const kiln_conv2d_attrs*>(attrs));
      case KILN_OP_MAXPOOL2D: case KILN_OP_MAXPOOL2D_BACKWARD: case KILN_OP_AVGPOOL2D:
      case KILN_OP_AVGPOOL2D_BACKWARD:
        return launch_pool(op, in, out, *static_cast<const kiln_pool2d_attrs*>(attrs));
      case KILN_OP_SOFTMAX: case KILN_OP_LOG_SOFTMAX: case KILN_OP_SOFTMAX_BACKWARD:
      case KILN_OP_LOG_SOFTMAX_BACKWARD:
        return launch_softmax(op, in, out[0], *static_cast<const kiln_axis_attrs*>(attrs));
      case KILN_OP_GATHER: case KILN_OP_SCATTER_ADD: case KILN_OP_INDEX_SELECT: case KILN_OP_EMBEDDING:
      case KILN_OP_EMBEDDING_BACKWARD:
        return launch_index(op, in, out[0], attrs);
      case KILN_OP_CAST: return launch_cast(in[0], out[0]);
      case KILN_OP_FILL: return launch_fill(out[0], *static_cast<const kiln_scalar_attrs*>(attrs));
      case KILN_OP_COPY: return launch_copy(in[0], out[0]);
      case KILN_OP_UNIFORM: case KILN_OP_NORMAL: case KILN_OP_BERNOULLI:
        return launch_random(op, out[0], *static_cast<const kiln_random_attrs*>(attrs));
      default: fail(KILN_STATUS_UNSUPPORTED, "tbb: ", op_name(op), " is not implemented");
    }
  }

 private:
  std::unique_ptr<tbb::global_control> control_;
};

}  // namespace

int num_threads() { return g_threads; }

}  // namespace kiln::tbbk

KILN_EXPORT_HOST_BACKEND(kiln::tbbk::TbbBackend)
