// The reference kernels, one entry point per op family. backend.cpp has already checked the op's
// arity, dtypes (supports()), that attrs is non-null where the op has attributes, and every
// descriptor (check_desc); each family checks the shapes and attribute values it relies on.
#ifndef KILN_BACKENDS_REF_KERNELS_HPP
#define KILN_BACKENDS_REF_KERNELS_HPP

#include <kiln/plugin/kiln_backend.h>
#include <kiln/plugin/op_info.h>

#include <functional>

namespace kiln::ref {

// pointwise.cpp
void run_unary(kiln_op op, const kiln_tensor_desc& x, const kiln_tensor_desc& out);
void run_scalar_unary(kiln_op op, const kiln_tensor_desc& x, const kiln_tensor_desc& out,
                      const kiln_scalar_attrs& attrs);
void run_binary(kiln_op op, const kiln_tensor_desc& a, const kiln_tensor_desc& b,
                const kiln_tensor_desc& out);
void run_compare(kiln_op op, const kiln_tensor_desc& a, const kiln_tensor_desc& b,
                 const kiln_tensor_desc& out);
void run_mul_add(const kiln_tensor_desc& x, const kiln_tensor_desc& y, const kiln_tensor_desc& z,
                 const kiln_tensor_desc& out);
void run_where(const kiln_tensor_desc& cond, const kiln_tensor_desc& a, const kiln_tensor_desc& b,
               const kiln_tensor_desc& out);

// reduce.cpp
void run_reduce(kiln_op op, const kiln_tensor_desc& x, const kiln_tensor_desc& out,
                const kiln_reduce_attrs& attrs);
void run_argreduce(kiln_op op, const kiln_tensor_desc& x, const kiln_tensor_desc& out,
                   const kiln_reduce_attrs& attrs);

// matmul.cpp
void run_matmul(const kiln_tensor_desc& a, const kiln_tensor_desc& b, const kiln_tensor_desc& out);

// conv.cpp: inputs (x, w), (dy, w) or (dy, x) as ops.def says.
void run_conv2d(kiln_op op, const kiln_tensor_desc& in0, const kiln_tensor_desc& in1,
                const kiln_tensor_desc& out, const kiln_conv2d_attrs& attrs);

// pool.cpp
void run_pool2d(kiln_op op, const kiln_tensor_desc* inputs, const kiln_tensor_desc* outputs,
                const kiln_pool2d_attrs& attrs);

// softmax.cpp
void run_softmax(kiln_op op, const kiln_tensor_desc* inputs, const kiln_tensor_desc& out,
                 const kiln_axis_attrs& attrs);

// index.cpp
void run_index(kiln_op op, const kiln_tensor_desc* inputs, const kiln_tensor_desc& out, const void* attrs);

// data.cpp
void run_cast(const kiln_tensor_desc& x, const kiln_tensor_desc& out);
void run_fill(const kiln_tensor_desc& out, const kiln_scalar_attrs& attrs);
void run_copy(const kiln_tensor_desc& x, const kiln_tensor_desc& out);
void run_random(kiln_op op, const kiln_tensor_desc& out, const kiln_random_attrs& attrs);

// half.cpp: float16/bfloat16 through float32 (Note [Half precision through float32]).
using LaunchFn = std::function<void(kiln_op, const kiln_tensor_desc*, int32_t, const kiln_tensor_desc*, int32_t,
                                    const void*)>;
bool has_half(const kiln_tensor_desc* in, int32_t num_inputs, const kiln_tensor_desc* out, int32_t num_outputs);
void launch_through_float(kiln_op op, const kiln_tensor_desc* in, int32_t num_inputs, const kiln_tensor_desc* out,
                          int32_t num_outputs, const void* attrs, const LaunchFn& launch);

}  // namespace kiln::ref

#endif  // KILN_BACKENDS_REF_KERNELS_HPP
