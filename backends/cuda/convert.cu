// Data movement: CAST, FILL, COPY (strided destinations allowed), and packing for cuBLAS/cuDNN.
#include "kernels.cuh"
#include "ops.hpp"

#include <cstring>

namespace kiln::cuda {
namespace {

template <typename From, typename To>
struct CastFn {
  To* out;
  const From* in;
  template <typename I>
  __device__ void operator()(const I* off) const {
    out[off[0]] = convert<To>(in[off[1]]);
  }
};

// FILL and COPY move bits: B is an unsigned integer of the element's size.
template <typename B>
struct FillFn {
  B* out;
  B value;
  template <typename I>
  __device__ void operator()(const I* off) const {
    out[off[0]] = value;
  }
};

template <typename B>
struct CopyFn {
  B* out;
  const B* in;
  template <typename I>
  __device__ void operator()(const I* off) const {
    out[off[0]] = in[off[1]];
  }
};

template <typename T, typename B>
B bits_of(T value) {
  static_assert(sizeof(T) == sizeof(B));
  B bits;
  std::memcpy(&bits, &value, sizeof(B));
  return bits;
}

}  // namespace

void run_cast(const Context& ctx, const kiln_tensor_desc& src, const kiln_tensor_desc& dst) {
  if (!same_shape(src, dst))
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: cast: input shape ", shape_string(src), " differs from output shape ",
         shape_string(dst));
  if (src.dtype == dst.dtype) return run_copy(ctx, src, dst);
  dispatch_all(ctx, src.dtype, [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    dispatch_all(ctx, dst.dtype, [&](auto to_tag) {
      using To = typename decltype(to_tag)::type;
      if constexpr (!std::is_same_v<From, To>) {
        CastFn<From, To> f{base_ptr_as<To>(dst), base_ptr_as<From>(src)};
        const kiln_tensor_desc* descs[2] = {&dst, &src};
        launch_elementwise<2, CastFn<From, To>, false>(ctx, descs, f, "cast_kernel");
      }
    });
  });
}

void run_fill(const Context& ctx, const kiln_tensor_desc& dst, const kiln_scalar_attrs& attrs) {
  const double a = attrs.a;
  dispatch_all(ctx, dst.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using B = std::conditional_t<sizeof(T) == 1, uint8_t, std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>;
    const T value = convert<T>(a);
    if (is_contiguous(dst) && (bits_of<T, B>(value) == 0 || sizeof(T) == 1)) {
      // cudaMemsetAsync: zero, or any one-byte value
      const uint8_t byte = static_cast<uint8_t>(bits_of<T, B>(value) & 0xff);
      check_cuda(cudaMemsetAsync(base_ptr(dst), byte, static_cast<size_t>(numel(dst)) * sizeof(T), ctx.cu_stream), ctx,
                 "cudaMemsetAsync");
      return;
    }
    FillFn<B> f{base_ptr_as<B>(dst), bits_of<T, B>(value)};
    const kiln_tensor_desc* descs[1] = {&dst};
    launch_elementwise<1>(ctx, descs, f, "fill_kernel");
  });
}

void run_copy(const Context& ctx, const kiln_tensor_desc& src, const kiln_tensor_desc& dst) {
  if (!same_shape(src, dst))
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", ctx.op_name, ": input shape ", shape_string(src),
         " differs from output shape ", shape_string(dst));
  if (src.dtype != dst.dtype)
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", ctx.op_name, ": input dtype ", dtype_name(src.dtype),
         " differs from output dtype ", dtype_name(dst.dtype));
  const int64_t n = numel(dst);
  if (n == 0) return;
  if (is_contiguous(src) && is_contiguous(dst)) {
    check_cuda(cudaMemcpyAsync(base_ptr(dst), base_ptr(src), static_cast<size_t>(n) * kiln_dtype_size(dst.dtype),
                               cudaMemcpyDeviceToDevice, ctx.cu_stream),
               ctx, "cudaMemcpyAsync");
    return;
  }
  dispatch_bits(ctx, dst.dtype, [&](auto tag) {
    using B = typename decltype(tag)::type;
    CopyFn<B> f{base_ptr_as<B>(dst), base_ptr_as<B>(src)};
    const kiln_tensor_desc* descs[2] = {&dst, &src};
    launch_elementwise<2>(ctx, descs, f, "copy_kernel");
  });
}

void copy_to_contiguous(const Context& ctx, const kiln_tensor_desc& src, void* dst) {
  kiln_tensor_desc d = src;
  d.data = dst;
  d.offset = 0;
  int64_t stride = 1;
  for (int32_t i = d.ndim - 1; i >= 0; --i) {
    d.strides[i] = stride;
    stride *= d.shape[i];
  }
  run_copy(ctx, src, d);
}

void zero_bytes(const Context& ctx, void* dst, size_t bytes) {
  if (bytes == 0) return;
  check_cuda(cudaMemsetAsync(dst, 0, bytes, ctx.cu_stream), ctx, "cudaMemsetAsync");
}

}  // namespace kiln::cuda
