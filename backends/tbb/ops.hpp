// Entry points of the tbb backend's op families (one .cpp each), called by backend.cpp.
#ifndef KILN_BACKENDS_TBB_OPS_HPP
#define KILN_BACKENDS_TBB_OPS_HPP

#include "common.hpp"

namespace kiln::tbbk {

using Desc = kiln_tensor_desc;

// pointwise.cpp
void launch_unary(kiln_op op, const Desc& x, const Desc& out);
void launch_scalar_unary(kiln_op op, const Desc& x, const Desc& out, const kiln_scalar_attrs& attrs);
void launch_binary(kiln_op op, const Desc& a, const Desc& b, const Desc& out);
void launch_compare(kiln_op op, const Desc& a, const Desc& b, const Desc& out);
void launch_where(const Desc& cond, const Desc& a, const Desc& b, const Desc& out);
void launch_mul_add(const Desc& x, const Desc& y, const Desc& z, const Desc& out);
// data_movement.cpp
void launch_cast(const Desc& x, const Desc& out);
void launch_fill(const Desc& out, const kiln_scalar_attrs& attrs);
void launch_copy(const Desc& x, const Desc& out);
void launch_random(kiln_op op, const Desc& out, const kiln_random_attrs& attrs);
// reduce.cpp
void launch_reduce(kiln_op op, const Desc& x, const Desc& out, const kiln_reduce_attrs& attrs);
void launch_argreduce(kiln_op op, const Desc& x, const Desc& out, const kiln_reduce_attrs& attrs);
// softmax.cpp
void launch_softmax(kiln_op op, const Desc* inputs, const Desc& out, const kiln_axis_attrs& attrs);
// matmul.cpp
void launch_matmul(const Desc& a, const Desc& b, const Desc& out);
// conv.cpp
void launch_conv(kiln_op op, const Desc& in0, const Desc& in1, const Desc& out, const kiln_conv2d_attrs& attrs);
// pool.cpp
void launch_pool(kiln_op op, const Desc* inputs, const Desc* outputs, const kiln_pool2d_attrs& attrs);
// index.cpp
void launch_index(kiln_op op, const Desc* inputs, const Desc& out, const void* attrs);

}  // namespace kiln::tbbk

#endif  // KILN_BACKENDS_TBB_OPS_HPP
