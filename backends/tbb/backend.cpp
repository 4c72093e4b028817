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

int g_threads = 1;

bool all_same(const int32_t* t, int32_t n) {
  for (int32_t i = 1; i < n; ++i)
    if (t[i] != t[0]) return false;
  return true;
}

// The dtypes launch() handles, op by op (inputs then outputs).
bool supported_dtypes(kiln_op op, const int32_t* t) {
  const int32_t x = t[0];
  switch (op) {
    case KILN_OP_NEG: case KILN_OP_ABS: case KILN_OP_SIGN: case KILN_OP_FLOOR: case KILN_OP_RELU:
    case KILN_OP_ADD_SCALAR: case KILN_OP_MUL_SCALAR: case KILN_OP_CLAMP: case KILN_OP_LEAKY_RELU:
      return is_numeric_dtype(x) && all_same(t, 2);
    case KILN_OP_EXP: case KILN_OP_LOG: case KILN_OP_SQRT: case KILN_OP_RSQRT: case KILN_OP_SIN: case KILN_OP_COS:
    case KILN_OP_SIGMOID: case KILN_OP_TANH: case KILN_OP_GELU: case KILN_OP_ERF: case KILN_OP_POW_SCALAR:
      return is_float_dtype(x) && all_same(t, 2);
    case KILN_OP_LOGICAL_NOT: return is_valid_dtype(x) && t[1] == KILN_DTYPE_BOOL;
    case KILN_OP_ADD: case KILN_OP_SUB: case KILN_OP_MUL: case KILN_OP_DIV:
      return is_numeric_dtype(x) && all_same(t, 3);
    case KILN_OP_POW: case KILN_OP_GELU_BACKWARD: case KILN_OP_RELU_BACKWARD:
      return is_float_dtype(x) && all_same(t, 3);
    case KILN_OP_MAXIMUM: case KILN_OP_MINIMUM: return is_valid_dtype(x) && all_same(t, 3);
    case KILN_OP_EQ: case KILN_OP_NE: case KILN_OP_LT: case KILN_OP_LE: case KILN_OP_GT: case KILN_OP_GE:
      return is_valid_dtype(x) && t[1] == x && t[2] == KILN_DTYPE_BOOL;
    case KILN_OP_WHERE: return x == KILN_DTYPE_BOOL && is_valid_dtype(t[1]) && all_same(t + 1, 3);
    case KILN_OP_MUL_ADD: return is_float_dtype(x) && all_same(t, 4);
    case KILN_OP_SUM: case KILN_OP_PROD: case KILN_OP_MAX: case KILN_OP_MIN:
      return is_numeric_dtype(x) && all_same(t, 2);
    case KILN_OP_MEAN: case KILN_OP_VAR: case KILN_OP_LOGSUMEXP: return is_float_dtype(x) && all_same(t, 2);
    case KILN_OP_ARGMAX: case KILN_OP_ARGMIN: return is_numeric_dtype(x) && t[1] == KILN_DTYPE_INT64;
    case KILN_OP_MATMUL: return is_numeric_dtype(x) && all_same(t, 3);
    case KILN_OP_CONV2D: case KILN_OP_CONV2D_BACKWARD_INPUT: case KILN_OP_CONV2D_BACKWARD_WEIGHT:
      return is_float_dtype(x) && all_same(t, 3);
    case KILN_OP_MAXPOOL2D: return is_float_dtype(x) && t[1] == x && t[2] == KILN_DTYPE_INT64;
    case KILN_OP_MAXPOOL2D_BACKWARD: return is_float_dtype(x) && t[1] == KILN_DTYPE_INT64 && t[2] == x;
    case KILN_OP_AVGPOOL2D: case KILN_OP_AVGPOOL2D_BACKWARD: return is_float_dtype(x) && all_same(t, 2);
    case KILN_OP_SOFTMAX: case KILN_OP_LOG_SOFTMAX: return is_float_dtype(x) && all_same(t, 2);
    case KILN_OP_SOFTMAX_BACKWARD: case KILN_OP_LOG_SOFTMAX_BACKWARD: return is_float_dtype(x) && all_same(t, 3);
    case KILN_OP_GATHER: case KILN_OP_INDEX_SELECT: case KILN_OP_EMBEDDING:
      return is_valid_dtype(x) && t[1] == KILN_DTYPE_INT64 && t[2] == x;
    case KILN_OP_SCATTER_ADD:
      return is_numeric_dtype(x) && t[1] == KILN_DTYPE_INT64 && t[2] == x && t[3] == x;
    case KILN_OP_EMBEDDING_BACKWARD: return is_float_dtype(x) && t[1] == KILN_DTYPE_INT64 && t[2] == x;
    case KILN_OP_CAST: return is_valid_dtype(x) && is_valid_dtype(t[1]);
    case KILN_OP_COPY: return is_valid_dtype(x) && t[1] == x;
    case KILN_OP_FILL: case KILN_OP_BERNOULLI: return is_valid_dtype(x);
    case KILN_OP_UNIFORM: return is_numeric_dtype(x);
    case KILN_OP_NORMAL: return is_float_dtype(x);
    default: return false;
  }
}

// Ops whose attrs pointer must not be NULL.
bool needs_attrs(kiln_op op) {
  switch (op) {
    case KILN_OP_ADD_SCALAR: case KILN_OP_MUL_SCALAR: case KILN_OP_POW_SCALAR: case KILN_OP_CLAMP:
    case KILN_OP_LEAKY_RELU: case KILN_OP_SUM: case KILN_OP_MEAN: case KILN_OP_PROD: case KILN_OP_MAX:
    case KILN_OP_MIN: case KILN_OP_LOGSUMEXP: case KILN_OP_VAR: case KILN_OP_ARGMAX: case KILN_OP_ARGMIN:
    case KILN_OP_CONV2D: case KILN_OP_CONV2D_BACKWARD_INPUT: case KILN_OP_CONV2D_BACKWARD_WEIGHT:
    case KILN_OP_MAXPOOL2D: case KILN_OP_MAXPOOL2D_BACKWARD: case KILN_OP_AVGPOOL2D:
    case KILN_OP_AVGPOOL2D_BACKWARD: case KILN_OP_SOFTMAX: case KILN_OP_LOG_SOFTMAX: case KILN_OP_SOFTMAX_BACKWARD:
    case KILN_OP_LOG_SOFTMAX_BACKWARD: case KILN_OP_GATHER: case KILN_OP_SCATTER_ADD: case KILN_OP_INDEX_SELECT:
    case KILN_OP_FILL: case KILN_OP_UNIFORM: case KILN_OP_NORMAL: case KILN_OP_BERNOULLI: return true;
    default: return false;
  }
}

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

  bool supports(kiln_op op, const int32_t* dtypes, int32_t num_dtypes, const void* attrs) override {
    if (op < 0 || op >= KILN_OP_COUNT || dtypes == nullptr) return false;
    if (num_dtypes != kOps[op].num_inputs + kOps[op].num_outputs) return false;
    (void)attrs;  // every attribute value is handled (invalid ones fail in launch with a message)
    return supported_dtypes(op, dtypes);
  }

  void launch(kiln_op op, const Desc* in, int32_t num_inputs, const Desc* out, int32_t num_outputs,
              const void* attrs) override {
    if (op < 0 || op >= KILN_OP_COUNT) fail(KILN_STATUS_UNSUPPORTED, "tbb: unknown op ", static_cast<int>(op));
    if (num_inputs != kOps[op].num_inputs || num_outputs != kOps[op].num_outputs)
      fail(KILN_STATUS_INVALID_ARGUMENT, "tbb: ", op_name(op), " takes ", kOps[op].num_inputs, " inputs and ",
           kOps[op].num_outputs, " outputs, got ", num_inputs, " and ", num_outputs);
    int32_t dtypes[8];
    for (int i = 0; i < num_inputs; ++i) dtypes[i] = in[i].dtype;
    for (int i = 0; i < num_outputs; ++i) dtypes[num_inputs + i] = out[i].dtype;
    if (!supported_dtypes(op, dtypes))
      fail(KILN_STATUS_UNSUPPORTED, "tbb: ", op_name(op), " does not support these dtypes");
    if (needs_attrs(op) && attrs == nullptr)
      fail(KILN_STATUS_INVALID_ARGUMENT, "tbb: ", op_name(op), " needs its attribute struct, got NULL");
    for (int i = 0; i < num_inputs + num_outputs; ++i) {
      const Desc& d = i < num_inputs ? in[i] : out[i - num_inputs];
      if (d.ndim < 0 || d.ndim > KILN_MAX_DIMS)
        fail(KILN_STATUS_INVALID_ARGUMENT, "tbb: ", op_name(op), ": ndim ", d.ndim, " out of range");
    }
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

const char* op_name(kiln_op op) { return op >= 0 && op < KILN_OP_COUNT ? kOps[op].name : "unknown op"; }
int num_threads() { return g_threads; }

}  // namespace kiln::tbbk

KILN_EXPORT_HOST_BACKEND(kiln::tbbk::TbbBackend)
