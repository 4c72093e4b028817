// The reference backend: single-threaded, plain loops, every op of ops.def. It is the oracle of the
// conformance suite, so it favours precision over speed (float32 accumulates in double).
#include <kiln/plugin/host_backend.hpp>
#include <sstream>
#include <string>

#include "dtype.hpp"
#include "kernels.hpp"
#include "strided.hpp"

namespace kiln::ref {
namespace {

template <class A>
const A& attrs_as(const void* attrs) {
  return *static_cast<const A*>(attrs);
}

class RefBackend final : public plugin::HostBackend {
 public:
  RefBackend() : HostBackend("ref", "0.1.0", 10) {}

  std::string device_name() const override { return "host CPU (reference, 1 thread)"; }
  int32_t compute_units() const override { return 1; }

  // Every op of the catalogue, for every dtype the catalogue defines it for (halves included).
  bool supports(kiln_op op, const int32_t* dtypes, int32_t num_dtypes, const void*) override {
    return kiln_op_takes(op, dtypes, num_dtypes) != 0;
  }

  // The kit has validated the launch (Note [Kit launch validation]): op, counts, dtypes, attrs.
  void launch(kiln_op op, const kiln_tensor_desc* in, int32_t num_inputs, const kiln_tensor_desc* out,
              int32_t num_outputs, const void* attrs) override {
    if (has_half(in, num_inputs, out, num_outputs))
      return launch_through_float(op, in, num_inputs, out, num_outputs, attrs,
                                  [this](kiln_op o, const kiln_tensor_desc* i, int32_t ni, const kiln_tensor_desc* x,
                                         int32_t no, const void* a) { run(o, i, ni, x, no, a); });
    run(op, in, num_inputs, out, num_outputs, attrs);
  }

 private:
  void run(kiln_op op, const kiln_tensor_desc* in, int32_t num_inputs, const kiln_tensor_desc* out,
           int32_t num_outputs, const void* attrs) {
    const struct kiln_op_info* info = kiln_op_info(op);
    const char* name = info->name;
    for (int32_t i = 0; i < num_inputs; ++i) check_desc(name, "input", in[i]);
    for (int32_t i = 0; i < num_outputs; ++i) check_desc(name, "output", out[i]);

    switch (info->kind) {
      case KILN_OP_KIND_UNARY:
        run_unary(op, in[0], out[0]);
        break;
      case KILN_OP_KIND_SCALAR_UNARY:
        run_scalar_unary(op, in[0], out[0], attrs_as<kiln_scalar_attrs>(attrs));
        break;
      case KILN_OP_KIND_BINARY:
        run_binary(op, in[0], in[1], out[0]);
        break;
      case KILN_OP_KIND_COMPARE:
        run_compare(op, in[0], in[1], out[0]);
        break;
      case KILN_OP_KIND_TERNARY:
        if (op == KILN_OP_WHERE)
          run_where(in[0], in[1], in[2], out[0]);
        else
          run_mul_add(in[0], in[1], in[2], out[0]);
        break;
      case KILN_OP_KIND_REDUCE:
        run_reduce(op, in[0], out[0], attrs_as<kiln_reduce_attrs>(attrs));
        break;
      case KILN_OP_KIND_ARGREDUCE:
        run_argreduce(op, in[0], out[0], attrs_as<kiln_reduce_attrs>(attrs));
        break;
      case KILN_OP_KIND_MATMUL:
        run_matmul(in[0], in[1], out[0]);
        break;
      case KILN_OP_KIND_CONV:
        run_conv2d(op, in[0], in[1], out[0], attrs_as<kiln_conv2d_attrs>(attrs));
        break;
      case KILN_OP_KIND_POOL:
        run_pool2d(op, in, out, attrs_as<kiln_pool2d_attrs>(attrs));
        break;
      case KILN_OP_KIND_SOFTMAX:
        run_softmax(op, in, out[0], attrs_as<kiln_axis_attrs>(attrs));
        break;
      case KILN_OP_KIND_INDEX:
        run_index(op, in, out[0], attrs);
        break;
      case KILN_OP_KIND_CAST:
        run_cast(in[0], out[0]);
        break;
      case KILN_OP_KIND_FILL:
        run_fill(out[0], attrs_as<kiln_scalar_attrs>(attrs));
        break;
      case KILN_OP_KIND_COPY:
        run_copy(in[0], out[0]);
        break;
      case KILN_OP_KIND_RANDOM:
        run_random(op, out[0], attrs_as<kiln_random_attrs>(attrs));
        break;
      case KILN_OP_KIND_COUNT:
        break;
    }
  }
};

}  // namespace
}  // namespace kiln::ref

KILN_EXPORT_HOST_BACKEND(kiln::ref::RefBackend)
