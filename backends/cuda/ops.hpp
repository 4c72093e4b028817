// Entry points of the CUDA backend's op implementations, one group per source file. Each checks
// what the host could get wrong (shapes, index ranges), enqueues its work on ctx's stream and
// throws Failure on error. Shapes and dtypes were already vetted by supports() and launch().
#ifndef KILN_BACKENDS_CUDA_OPS_HPP
#define KILN_BACKENDS_CUDA_OPS_HPP

#include "common.hpp"

namespace kiln::cuda {

// pointwise.cu: UNARY, SCALAR_UNARY, BINARY, COMPARE and TERNARY ops.
void run_pointwise(const Context& ctx, const kiln_tensor_desc* inputs, int32_t num_inputs,
                   const kiln_tensor_desc& out, const void* attrs);

// convert.cu: CAST, FILL, COPY, and the packing helper matmul and conv use.
void run_cast(const Context& ctx, const kiln_tensor_desc& src, const kiln_tensor_desc& dst);
void run_fill(const Context& ctx, const kiln_tensor_desc& dst, const kiln_scalar_attrs& attrs);
void run_copy(const Context& ctx, const kiln_tensor_desc& src, const kiln_tensor_desc& dst);
// Copies src (any strides) into dst, a contiguous buffer of numel(src) elements of src's dtype.
void copy_to_contiguous(const Context& ctx, const kiln_tensor_desc& src, void* dst);
// Sets dst (contiguous, `bytes` long) to zero on ctx's stream.
void zero_bytes(const Context& ctx, void* dst, size_t bytes);

// reduce.cu: REDUCE and ARGREDUCE ops.
void run_reduce(const Context& ctx, const kiln_tensor_desc& src, const kiln_tensor_desc& dst,
                const kiln_reduce_attrs& attrs);
void run_argreduce(const Context& ctx, const kiln_tensor_desc& src, const kiln_tensor_desc& dst,
                   const kiln_reduce_attrs& attrs);

// softmax.cu
void run_softmax(const Context& ctx, const kiln_tensor_desc* inputs, int32_t num_inputs,
                 const kiln_tensor_desc& out, const kiln_axis_attrs& attrs);

// pool.cu
void run_pool(const Context& ctx, const kiln_tensor_desc* inputs, const kiln_tensor_desc* outputs,
              const kiln_pool2d_attrs& attrs);

// index.cu: GATHER, SCATTER_ADD, INDEX_SELECT, EMBEDDING, EMBEDDING_BACKWARD.
void run_index(const Context& ctx, const kiln_tensor_desc* inputs, const kiln_tensor_desc& out,
               const void* attrs);

// random.cu
void run_random(const Context& ctx, const kiln_tensor_desc& out, const kiln_random_attrs& attrs);

// matmul.cpp (cuBLAS). allow_tf32(): KILN_CUDA_ALLOW_TF32=1 (read once) lets float32 matmul and
// convolution use TF32 tensor cores; off by default.
bool allow_tf32();
void run_matmul(const Context& ctx, const kiln_tensor_desc& a, const kiln_tensor_desc& b,
                const kiln_tensor_desc& out);

// conv.cpp (cuDNN)
void run_conv(const Context& ctx, const kiln_tensor_desc& in0, const kiln_tensor_desc& in1,
              const kiln_tensor_desc& out, const kiln_conv2d_attrs& attrs);

}  // namespace kiln::cuda

#endif  // KILN_BACKENDS_CUDA_OPS_HPP
