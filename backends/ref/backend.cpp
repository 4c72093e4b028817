// The reference backend: single-threaded, plain loops, every op of ops.def. It is the oracle of the
// conformance suite, so it favours precision over speed (float32 accumulates in double).
#include <kiln/plugin/host_backend.hpp>
#include <sstream>
#include <string>

#include "dtype.hpp"
#include "kernels.hpp"
#include "op_info.hpp"
#include "strided.hpp"

namespace kiln::ref {
namespace {

bool all_equal(const int32_t* t, int32_t n) {
  for (int32_t i = 1; i < n; ++i)
    if (t[i] != t[0]) return false;
  return true;
}

// The dtypes (inputs then outputs, already known valid and of the op's arity) that launch() runs.
// One line per group of ops reads better than one line per op.
// clang-format off
bool dtypes_supported(kiln_op op, const int32_t* t) {
  const int32_t bool_t = KILN_DTYPE_BOOL, i64 = KILN_DTYPE_INT64;
  switch (op) {
    case KILN_OP_EXP: case KILN_OP_LOG: case KILN_OP_SQRT: case KILN_OP_RSQRT: case KILN_OP_SIN:
    case KILN_OP_COS: case KILN_OP_SIGMOID: case KILN_OP_TANH: case KILN_OP_GELU: case KILN_OP_ERF:
    case KILN_OP_POW_SCALAR:
      return is_float_dtype(t[0]) && t[1] == t[0];
    case KILN_OP_NEG: case KILN_OP_ABS: case KILN_OP_SIGN: case KILN_OP_FLOOR: case KILN_OP_RELU:
    case KILN_OP_ADD_SCALAR: case KILN_OP_MUL_SCALAR: case KILN_OP_CLAMP: case KILN_OP_LEAKY_RELU:
      return is_numeric_dtype(t[0]) && t[1] == t[0];
    case KILN_OP_LOGICAL_NOT:
      return t[1] == bool_t;
    case KILN_OP_ADD: case KILN_OP_SUB: case KILN_OP_MUL: case KILN_OP_DIV: case KILN_OP_MATMUL:
      return is_numeric_dtype(t[0]) && all_equal(t, 3);
    case KILN_OP_MAXIMUM: case KILN_OP_MINIMUM:
      return all_equal(t, 3);
    case KILN_OP_POW: case KILN_OP_GELU_BACKWARD: case KILN_OP_RELU_BACKWARD:
      return is_float_dtype(t[0]) && all_equal(t, 3);
    case KILN_OP_EQ: case KILN_OP_NE: case KILN_OP_LT: case KILN_OP_LE: case KILN_OP_GT: case KILN_OP_GE:
      return t[0] == t[1] && t[2] == bool_t;
    case KILN_OP_WHERE:
      return t[0] == bool_t && all_equal(t + 1, 3);
    case KILN_OP_MUL_ADD:
      return is_float_dtype(t[0]) && all_equal(t, 4);
    case KILN_OP_SUM: case KILN_OP_PROD: case KILN_OP_MAX: case KILN_OP_MIN:
      return is_numeric_dtype(t[0]) && t[1] == t[0];
    case KILN_OP_MEAN: case KILN_OP_VAR: case KILN_OP_LOGSUMEXP:
      return is_float_dtype(t[0]) && t[1] == t[0];
    case KILN_OP_ARGMAX: case KILN_OP_ARGMIN:
      return is_numeric_dtype(t[0]) && t[1] == i64;
    case KILN_OP_CONV2D: case KILN_OP_CONV2D_BACKWARD_INPUT: case KILN_OP_CONV2D_BACKWARD_WEIGHT:
      return is_float_dtype(t[0]) && all_equal(t, 3);
    case KILN_OP_MAXPOOL2D:  // (x) -> (y, indices)
      return is_float_dtype(t[0]) && t[1] == t[0] && t[2] == i64;
    case KILN_OP_MAXPOOL2D_BACKWARD:  // (dy, indices) -> dx
      return is_float_dtype(t[0]) && t[1] == i64 && t[2] == t[0];
    case KILN_OP_AVGPOOL2D: case KILN_OP_AVGPOOL2D_BACKWARD:
      return is_float_dtype(t[0]) && t[1] == t[0];
    case KILN_OP_SOFTMAX: case KILN_OP_LOG_SOFTMAX:
      return is_float_dtype(t[0]) && t[1] == t[0];
    case KILN_OP_SOFTMAX_BACKWARD: case KILN_OP_LOG_SOFTMAX_BACKWARD:
      return is_float_dtype(t[0]) && all_equal(t, 3);
    case KILN_OP_GATHER: case KILN_OP_INDEX_SELECT: case KILN_OP_EMBEDDING:  // (data, index) -> data
      return t[1] == i64 && t[2] == t[0];
    case KILN_OP_SCATTER_ADD:  // (self, index, src) -> out
      return is_numeric_dtype(t[0]) && t[1] == i64 && t[2] == t[0] && t[3] == t[0];
    case KILN_OP_EMBEDDING_BACKWARD:  // (dy, index) -> dW
      return is_float_dtype(t[0]) && t[1] == i64 && t[2] == t[0];
    case KILN_OP_CAST: case KILN_OP_FILL:
      return true;
    case KILN_OP_COPY:
      return t[0] == t[1];
    case KILN_OP_UNIFORM:
      return is_numeric_dtype(t[0]);
    case KILN_OP_NORMAL:
      return is_float_dtype(t[0]);
    case KILN_OP_BERNOULLI:
      return true;
    case KILN_OP_COUNT:
      break;
  }
  return false;
}
// clang-format on

std::string dtypes_str(const int32_t* t, int32_t num_inputs, int32_t num_outputs) {
  std::ostringstream os;
  os << '(';
  for (int32_t i = 0; i < num_inputs + num_outputs; ++i) {
    if (i == num_inputs)
      os << ") -> (";
    else if (i)
      os << ", ";
    os << dtype_name(t[i]);
  }
  os << ')';
  return os.str();
}

template <class A>
const A& attrs_as(const void* attrs) {
  return *static_cast<const A*>(attrs);
}

class RefBackend final : public plugin::HostBackend {
 public:
  RefBackend() : HostBackend("ref", "0.1.0", 10) {}

  std::string device_name() const override { return "host CPU (reference, 1 thread)"; }
  int32_t compute_units() const override { return 1; }

  bool supports(kiln_op op, const int32_t* dtypes, int32_t num_dtypes, const void*) override {
    if (!is_known_op(op) || dtypes == nullptr) return false;
    const OpInfo& info = op_info(op);
    if (num_dtypes != info.num_inputs + info.num_outputs) return false;
    for (int32_t i = 0; i < num_dtypes; ++i)
      if (!is_valid_dtype(dtypes[i])) return false;
    return dtypes_supported(op, dtypes);
  }

  void launch(kiln_op op, const kiln_tensor_desc* in, int32_t num_inputs, const kiln_tensor_desc* out,
              int32_t num_outputs, const void* attrs) override {
    if (!is_known_op(op)) fail(KILN_STATUS_UNSUPPORTED, "ref: unknown op ", static_cast<int>(op));
    const OpInfo& info = op_info(op);
    const char* name = info.name;
    if (num_inputs != info.num_inputs || num_outputs != info.num_outputs)
      fail(KILN_STATUS_INVALID_ARGUMENT, name, ": expected ", info.num_inputs, " inputs and ",
           info.num_outputs, " outputs, got ", num_inputs, " and ", num_outputs);
    if ((num_inputs > 0 && in == nullptr) || out == nullptr)
      fail(KILN_STATUS_INVALID_ARGUMENT, name, ": null tensor descriptor array");
    if (info.attrs != Attrs::NONE && attrs == nullptr)
      fail(KILN_STATUS_INVALID_ARGUMENT, name, ": expected an attribute struct, got NULL");

    int32_t dtypes[8] = {};
    for (int32_t i = 0; i < num_inputs; ++i) dtypes[i] = in[i].dtype;
    for (int32_t i = 0; i < num_outputs; ++i) dtypes[num_inputs + i] = out[i].dtype;
    if (!supports(op, dtypes, num_inputs + num_outputs, attrs))
      fail(KILN_STATUS_UNSUPPORTED, name, ": the ref backend does not run dtypes ",
           dtypes_str(dtypes, num_inputs, num_outputs));
    for (int32_t i = 0; i < num_inputs; ++i) check_desc(name, "input", in[i]);
    for (int32_t i = 0; i < num_outputs; ++i) check_desc(name, "output", out[i]);

    switch (info.kind) {
      case Kind::UNARY:
        run_unary(op, in[0], out[0]);
        break;
      case Kind::SCALAR_UNARY:
        run_scalar_unary(op, in[0], out[0], attrs_as<kiln_scalar_attrs>(attrs));
        break;
      case Kind::BINARY:
        run_binary(op, in[0], in[1], out[0]);
        break;
      case Kind::COMPARE:
        run_compare(op, in[0], in[1], out[0]);
        break;
      case Kind::TERNARY:
        if (op == KILN_OP_WHERE)
          run_where(in[0], in[1], in[2], out[0]);
        else
          run_mul_add(in[0], in[1], in[2], out[0]);
        break;
      case Kind::REDUCE:
        run_reduce(op, in[0], out[0], attrs_as<kiln_reduce_attrs>(attrs));
        break;
      case Kind::ARGREDUCE:
        run_argreduce(op, in[0], out[0], attrs_as<kiln_reduce_attrs>(attrs));
        break;
      case Kind::MATMUL:
        run_matmul(in[0], in[1], out[0]);
        break;
      case Kind::CONV:
        run_conv2d(op, in[0], in[1], out[0], attrs_as<kiln_conv2d_attrs>(attrs));
        break;
      case Kind::POOL:
        run_pool2d(op, in, out, attrs_as<kiln_pool2d_attrs>(attrs));
        break;
      case Kind::SOFTMAX:
        run_softmax(op, in, out[0], attrs_as<kiln_axis_attrs>(attrs));
        break;
      case Kind::INDEX:
        run_index(op, in, out[0], attrs);
        break;
      case Kind::CAST:
        run_cast(in[0], out[0]);
        break;
      case Kind::FILL:
        run_fill(out[0], attrs_as<kiln_scalar_attrs>(attrs));
        break;
      case Kind::COPY:
        run_copy(in[0], out[0]);
        break;
      case Kind::RANDOM:
        run_random(op, out[0], attrs_as<kiln_random_attrs>(attrs));
        break;
    }
  }
};

}  // namespace
}  // namespace kiln::ref

KILN_EXPORT_HOST_BACKEND(kiln::ref::RefBackend)
