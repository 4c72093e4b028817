// MAXPOOL2D (with int64 indices h * W + w into the input plane), AVGPOOL2D (PyTorch's divisor
// rules), and their backward passes. NCHW; inputs may have any strides, outputs are contiguous.
//
// Note [Max-pool backward is atomic]: overlapping windows (stride < kernel) send several
// gradients to one input cell, added with atomicAdd, so the float sum's order (and its last bit)
// may vary from run to run. An index outside the input plane is skipped, not reported: the
// indices come from MAXPOOL2D, and checking would cost a stream synchronization per launch.
#include "kernels.cuh"
#include "ops.hpp"

namespace kiln::cuda {
namespace {

struct Pool {
  int64_t n, c, h, w, oh, ow;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  bool count_include_pad;
};

struct Nchw {  // strides of a 4-D tensor
  int64_t n, c, h, w;
};
Nchw strides_of(const kiln_tensor_desc& d) { return Nchw{d.strides[0], d.strides[1], d.strides[2], d.strides[3]}; }

// Output element `i` of a contiguous [N, C, OH, OW] tensor -> (plane = n * C + c, oh, ow).
__device__ __forceinline__ void split_output(const Pool& p, int64_t i, int64_t& n, int64_t& c, int64_t& oh,
                                             int64_t& ow) {
  ow = i % p.ow;
  i /= p.ow;
  oh = i % p.oh;
  i /= p.oh;
  c = i % p.c;
  n = i / p.c;
}

template <typename T>
__global__ void maxpool_kernel(const T* x, Nchw xs, T* y, int64_t* indices, Pool p, int64_t total) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t n, c, oh, ow;
    split_output(p, i, n, c, oh, ow);
    const T* plane = x + n * xs.n + c * xs.c;
    const int64_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
    T best = -std::numeric_limits<T>::infinity();
    int64_t best_index = -1;
    for (int64_t kh = 0; kh < p.kh; ++kh) {
      const int64_t h = h0 + kh * p.dh;
      if (h < 0 || h >= p.h) continue;
      for (int64_t kw = 0; kw < p.kw; ++kw) {
        const int64_t w = w0 + kw * p.dw;
        if (w < 0 || w >= p.w) continue;
        const T v = plane[h * xs.h + w * xs.w];
        // The first maximum wins; NaN beats everything (the first NaN).
        if (best_index < 0 || v > best || (is_nan(v) && !is_nan(best))) {
          best = v;
          best_index = h * p.w + w;
        }
      }
    }
    if (best_index < 0) best_index = max(h0, int64_t{0}) * p.w + max(w0, int64_t{0});  // window all padding
    y[i] = best;
    indices[i] = best_index;
  }
}

template <typename T>
__global__ void maxpool_backward_kernel(const T* dy, Nchw dys, const int64_t* indices, Nchw is, T* dx, Pool p,
                                        int64_t total) {
  const int64_t plane_size = p.h * p.w;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t n, c, oh, ow;
    split_output(p, i, n, c, oh, ow);
    const int64_t index = indices[n * is.n + c * is.c + oh * is.h + ow * is.w];
    if (index < 0 || index >= plane_size) continue;
    atomicAdd(dx + (n * p.c + c) * plane_size + index, dy[n * dys.n + c * dys.c + oh * dys.h + ow * dys.w]);
  }
}

// PyTorch's avg_pool2d divisor for window (oh, ow); fills the clipped window bounds.
__device__ __forceinline__ int64_t avg_window(const Pool& p, int64_t oh, int64_t ow, int64_t& h0, int64_t& h1,
                                              int64_t& w0, int64_t& w1) {
  h0 = oh * p.sh - p.ph;
  w0 = ow * p.sw - p.pw;
  h1 = min(h0 + p.kh, p.h + p.ph);
  w1 = min(w0 + p.kw, p.w + p.pw);
  const int64_t padded_size = (h1 - h0) * (w1 - w0);
  h0 = max(h0, int64_t{0});
  w0 = max(w0, int64_t{0});
  h1 = min(h1, p.h);
  w1 = min(w1, p.w);
  return p.count_include_pad ? padded_size : (h1 - h0) * (w1 - w0);
}

template <typename T>
__global__ void avgpool_kernel(const T* x, Nchw xs, T* y, Pool p, int64_t total) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t n, c, oh, ow, h0, h1, w0, w1;
    split_output(p, i, n, c, oh, ow);
    const int64_t divisor = avg_window(p, oh, ow, h0, h1, w0, w1);
    const T* plane = x + n * xs.n + c * xs.c;
    T sum = T(0);
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w) sum += plane[h * xs.h + w * xs.w];
    y[i] = sum / static_cast<T>(divisor);
  }
}

// One thread per input cell gathers from the windows that cover it: deterministic, no atomics.
template <typename T>
__global__ void avgpool_backward_kernel(const T* dy, Nchw dys, T* dx, Pool p, int64_t total) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t w = i % p.w, h = (i / p.w) % p.h, c = (i / (p.w * p.h)) % p.c, n = i / (p.w * p.h * p.c);
    const int64_t oh0 = (h + p.ph < p.kh) ? 0 : (h + p.ph - p.kh) / p.sh + 1;
    const int64_t oh1 = min((h + p.ph) / p.sh + 1, p.oh);
    const int64_t ow0 = (w + p.pw < p.kw) ? 0 : (w + p.pw - p.kw) / p.sw + 1;
    const int64_t ow1 = min((w + p.pw) / p.sw + 1, p.ow);
    const T* plane = dy + n * dys.n + c * dys.c;
    T sum = T(0);
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        int64_t h0, h1, w0, w1;
        const int64_t divisor = avg_window(p, oh, ow, h0, h1, w0, w1);
        if (h < h0 || h >= h1 || w < w0 || w >= w1) continue;
        sum += plane[oh * dys.h + ow * dys.w] / static_cast<T>(divisor);
      }
    }
    dx[i] = sum;
  }
}

}  // namespace

void run_pool(const Context& ctx, const kiln_tensor_desc* in, const kiln_tensor_desc* out,
              const kiln_pool2d_attrs& attrs) {
  // The input-plane tensor (x or dx) and the output-plane tensor (y or dy).
  const bool backward = ctx.op == KILN_OP_MAXPOOL2D_BACKWARD || ctx.op == KILN_OP_AVGPOOL2D_BACKWARD;
  const kiln_tensor_desc& big = backward ? out[0] : in[0];
  const kiln_tensor_desc& small = backward ? in[0] : out[0];
  if (big.ndim != 4 || small.ndim != 4 || big.shape[0] != small.shape[0] || big.shape[1] != small.shape[1])
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", ctx.op_name, ": expected NCHW input and output with equal N and C, got ",
         shape_string(big), " and ", shape_string(small));
  if (attrs.kernel[0] < 1 || attrs.kernel[1] < 1 || attrs.stride[0] < 1 || attrs.stride[1] < 1 ||
      attrs.padding[0] < 0 || attrs.padding[1] < 0)
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", ctx.op_name, ": kernel and stride must be >= 1 and padding >= 0");
  const bool is_max = ctx.op == KILN_OP_MAXPOOL2D || ctx.op == KILN_OP_MAXPOOL2D_BACKWARD;
  if (ctx.op == KILN_OP_MAXPOOL2D && !same_shape(out[0], out[1]))
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: maxpool2d: indices shape ", shape_string(out[1]),
         " differs from output shape ", shape_string(out[0]));
  if (ctx.op == KILN_OP_MAXPOOL2D_BACKWARD && !same_shape(in[0], in[1]))
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: maxpool2d_backward: indices shape ", shape_string(in[1]),
         " differs from gradient shape ", shape_string(in[0]));
  Pool p{};
  p.n = big.shape[0];
  p.c = big.shape[1];
  p.h = big.shape[2];
  p.w = big.shape[3];
  p.oh = small.shape[2];
  p.ow = small.shape[3];
  p.kh = attrs.kernel[0];
  p.kw = attrs.kernel[1];
  p.sh = attrs.stride[0];
  p.sw = attrs.stride[1];
  p.ph = attrs.padding[0];
  p.pw = attrs.padding[1];
  p.dh = is_max ? std::max<int64_t>(1, attrs.dilation[0]) : 1;
  p.dw = is_max ? std::max<int64_t>(1, attrs.dilation[1]) : 1;
  p.count_include_pad = attrs.count_include_pad != 0;
  const int64_t small_total = numel(small), big_total = numel(big);
  dispatch_float(ctx, big.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const cudaStream_t s = ctx.cu_stream;
    switch (ctx.op) {
      case KILN_OP_MAXPOOL2D:
        if (small_total == 0) return;
        maxpool_kernel<T><<<grid_for(small_total), kThreads, 0, s>>>(
            base_ptr_as<T>(in[0]), strides_of(in[0]), base_ptr_as<T>(out[0]), base_ptr_as<int64_t>(out[1]), p,
            small_total);
        check_launch(ctx, "maxpool_kernel");
        break;
      case KILN_OP_MAXPOOL2D_BACKWARD:
        zero_bytes(ctx, base_ptr(out[0]), static_cast<size_t>(big_total) * sizeof(T));
        if (small_total == 0) return;
        maxpool_backward_kernel<T><<<grid_for(small_total), kThreads, 0, s>>>(
            base_ptr_as<T>(in[0]), strides_of(in[0]), base_ptr_as<int64_t>(in[1]), strides_of(in[1]),
            base_ptr_as<T>(out[0]), p, small_total);
        check_launch(ctx, "maxpool_backward_kernel");
        break;
      case KILN_OP_AVGPOOL2D:
        if (small_total == 0) return;
        avgpool_kernel<T><<<grid_for(small_total), kThreads, 0, s>>>(base_ptr_as<T>(in[0]), strides_of(in[0]),
                                                                      base_ptr_as<T>(out[0]), p, small_total);
        check_launch(ctx, "avgpool_kernel");
        break;
      default:  // AVGPOOL2D_BACKWARD
        if (big_total == 0) return;
        avgpool_backward_kernel<T><<<grid_for(big_total), kThreads, 0, s>>>(base_ptr_as<T>(in[0]), strides_of(in[0]),
                                                                             base_ptr_as<T>(out[0]), p, big_total);
        check_launch(ctx, "avgpool_backward_kernel");
        break;
    }
  });
}

}  // namespace kiln::cuda
