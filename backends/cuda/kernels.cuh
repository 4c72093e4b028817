// Device-side helpers shared by the backend's .cu files: dtype dispatch, the strided index math
// of the generic elementwise kernels, conversions with Kiln's cast rules, and block reductions.
#ifndef KILN_BACKENDS_CUDA_KERNELS_CUH
#define KILN_BACKENDS_CUDA_KERNELS_CUH

#include "common.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace kiln::cuda {

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n items (capped: each thread then loops).
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(blocks, 65536)));
}

// ---- dtype dispatch: f(Tag<T>{}) with T the element type; only the listed dtypes instantiate ----
template <typename T>
struct Tag {
  using type = T;
};

[[noreturn]] inline void unsupported_dtype(const Context& ctx, int32_t dtype) {
  fail(KILN_STATUS_UNSUPPORTED, "cuda: ", ctx.op_name, " does not support dtype ", dtype_name(dtype));
}

template <typename F>
void dispatch_float(const Context& ctx, int32_t dtype, F&& f) {
  switch (dtype) {
    case KILN_DTYPE_FLOAT32: f(Tag<float>{}); break;
    case KILN_DTYPE_FLOAT64: f(Tag<double>{}); break;
    default: unsupported_dtype(ctx, dtype);
  }
}
template <typename F>
void dispatch_numeric(const Context& ctx, int32_t dtype, F&& f) {
  switch (dtype) {
    case KILN_DTYPE_FLOAT32: f(Tag<float>{}); break;
    case KILN_DTYPE_FLOAT64: f(Tag<double>{}); break;
    case KILN_DTYPE_INT32: f(Tag<int32_t>{}); break;
    case KILN_DTYPE_INT64: f(Tag<int64_t>{}); break;
    case KILN_DTYPE_UINT8: f(Tag<uint8_t>{}); break;
    default: unsupported_dtype(ctx, dtype);
  }
}
template <typename F>
void dispatch_all(const Context& ctx, int32_t dtype, F&& f) {
  if (dtype == KILN_DTYPE_BOOL) {
    f(Tag<bool>{});
  } else {
    dispatch_numeric(ctx, dtype, static_cast<F&&>(f));
  }
}
// By element size only, for ops that move bits without looking at them.
template <typename F>
void dispatch_bits(const Context& ctx, int32_t dtype, F&& f) {
  switch (kiln_dtype_size(dtype)) {
    case 1: f(Tag<uint8_t>{}); break;
    case 4: f(Tag<uint32_t>{}); break;
    case 8: f(Tag<uint64_t>{}); break;
    default: unsupported_dtype(ctx, dtype);
  }
}

// ---- conversions with Kiln's cast rules ----
// float -> int: NaN is 0, out-of-range values clamp, the rest truncate; -> bool is != 0.
template <typename To, typename From>
__host__ __device__ inline To convert(From x) {
  if constexpr (std::is_same_v<To, bool>) {
    return x != From(0);
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    if (x != x) return To(0);
    if (x <= static_cast<From>(std::numeric_limits<To>::lowest())) return std::numeric_limits<To>::lowest();
    if (x >= static_cast<From>(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
    return static_cast<To>(x);
  } else {
    return static_cast<To>(x);
  }
}

// ---- float/double math by overload (device) ----
#define KILN_CUDA_MATH1(name, f32, f64)                                    \
  __device__ __forceinline__ float name(float x) { return f32(x); }       \
  __device__ __forceinline__ double name(double x) { return f64(x); }
KILN_CUDA_MATH1(m_exp, expf, exp)
KILN_CUDA_MATH1(m_log, logf, log)
KILN_CUDA_MATH1(m_sqrt, sqrtf, sqrt)
KILN_CUDA_MATH1(m_sin, sinf, sin)
KILN_CUDA_MATH1(m_cos, cosf, cos)
KILN_CUDA_MATH1(m_tanh, tanhf, tanh)
KILN_CUDA_MATH1(m_erf, erff, erf)
KILN_CUDA_MATH1(m_floor, floorf, floor)
KILN_CUDA_MATH1(m_fabs, fabsf, fabs)
#undef KILN_CUDA_MATH1
__device__ __forceinline__ float m_pow(float x, float y) { return powf(x, y); }
__device__ __forceinline__ double m_pow(double x, double y) { return pow(x, y); }

template <typename T>
__host__ __device__ __forceinline__ bool is_nan(T x) {
  if constexpr (std::is_floating_point_v<T>) {
    return x != x;
  } else {
    (void)x;
    return false;
  }
}

// ---- strided index math ----
// One shape shared by N tensors, each with its own strides (in elements). Extent-1 dimensions are
// dropped and dimensions that are contiguous in every tensor merged, so most launches see 1-2 dims.
template <int N>
struct Layout {
  int32_t ndim;
  int64_t shape[KILN_MAX_DIMS];
  int64_t strides[N][KILN_MAX_DIMS];
};

template <int N>
Layout<N> make_layout(const int64_t* shape, int32_t ndim, const int64_t* const (&strides)[N]) {
  Layout<N> layout{};
  int32_t nd = 0;
  for (int32_t d = 0; d < ndim; ++d) {
    if (shape[d] == 1) continue;
    bool merge = nd > 0;
    for (int k = 0; k < N && merge; ++k) merge = layout.strides[k][nd - 1] == strides[k][d] * shape[d];
    if (merge) {
      layout.shape[nd - 1] *= shape[d];
      for (int k = 0; k < N; ++k) layout.strides[k][nd - 1] = strides[k][d];
    } else {
      layout.shape[nd] = shape[d];
      for (int k = 0; k < N; ++k) layout.strides[k][nd] = strides[k][d];
      ++nd;
    }
  }
  layout.ndim = nd;
  return layout;
}

// True if every linear index and element offset of the layout fits in int32.
template <int N>
bool fits_int32(const Layout<N>& layout, int64_t n) {
  // Half the range, so the grid-stride loop's `i += stride` never overflows.
  constexpr int64_t limit = std::numeric_limits<int32_t>::max() / 2;
  if (n > limit) return false;
  for (int k = 0; k < N; ++k) {
    int64_t extent = 0;
    for (int32_t d = 0; d < layout.ndim; ++d) {
      int64_t s = layout.strides[k][d] < 0 ? -layout.strides[k][d] : layout.strides[k][d];
      extent += (layout.shape[d] - 1) * s;
    }
    if (extent > limit) return false;
  }
  return true;
}

// Offsets of linear (row-major) element `linear` in each tensor. Unrolled with compile-time dims
// so the layout stays in the parameter bank instead of local memory.
template <int N, typename Index>
__device__ __forceinline__ void layout_offsets(const Layout<N>& layout, Index linear, Index (&off)[N]) {
  using U = std::make_unsigned_t<Index>;
  U rest = static_cast<U>(linear);
#pragma unroll
  for (int k = 0; k < N; ++k) off[k] = 0;
#pragma unroll
  for (int d = KILN_MAX_DIMS - 1; d >= 0; --d) {
    if (d < layout.ndim) {
      U size = static_cast<U>(layout.shape[d]);
      U i = rest % size;
      rest /= size;
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += static_cast<Index>(i) * static_cast<Index>(layout.strides[k][d]);
    }
  }
}

// Offset of element `linear` in one strided tensor described by (shape, strides, ndim).
struct Strided {
  int32_t ndim;
  int64_t shape[KILN_MAX_DIMS];
  int64_t strides[KILN_MAX_DIMS];
};
inline Strided make_strided(const kiln_tensor_desc& d) {
  const int64_t* strides[1] = {d.strides};
  Layout<1> l = make_layout<1>(d.shape, d.ndim, strides);
  Strided s{};
  s.ndim = l.ndim;
  for (int32_t i = 0; i < l.ndim; ++i) {
    s.shape[i] = l.shape[i];
    s.strides[i] = l.strides[0][i];
  }
  return s;
}
__device__ __forceinline__ int64_t strided_offset(const Strided& s, int64_t linear) {
  int64_t off = 0;
#pragma unroll
  for (int d = KILN_MAX_DIMS - 1; d >= 0; --d) {
    if (d < s.ndim) {
      int64_t i = linear % s.shape[d];
      linear /= s.shape[d];
      off += i * s.strides[d];
    }
  }
  return off;
}

// ---- the generic elementwise kernels ----
// F is a functor `template <typename I> __device__ void operator()(const I* off) const` that loads
// its inputs at off[1..N-1] and stores its output at off[0].
// A functor that declares `static constexpr bool kWantsLinear = true` is called f(off, linear)
// instead, linear being the row-major number of the element (the index ops name it in errors).
template <typename F, typename = void>
struct wants_linear : std::false_type {};
template <typename F>
struct wants_linear<F, std::void_t<decltype(F::kWantsLinear)>> : std::bool_constant<F::kWantsLinear> {};

template <typename F, typename I, int N>
__device__ __forceinline__ void invoke_elementwise(const F& f, const I (&off)[N], I linear) {
  if constexpr (wants_linear<F>::value) {
    f(off, static_cast<int64_t>(linear));
  } else {
    (void)linear;
    f(off);
  }
}

template <int N, typename F>
__global__ void contiguous_kernel(int64_t n, F f) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t off[N];
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = i;
    invoke_elementwise(f, off, i);
  }
}

template <int N, typename Index, typename F>
__global__ void strided_kernel(Layout<N> layout, Index n, F f) {
  for (Index i = blockIdx.x * static_cast<Index>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<Index>(gridDim.x) * blockDim.x) {
    Index off[N];
    layout_offsets<N, Index>(layout, i, off);
    invoke_elementwise(f, off, i);
  }
}

// Runs f over every element of descs[0]'s shape; descs[0] is the output, the rest inputs of the
// same shape (pre-broadcast by the host).
// With SmallIndex false the 32-bit strided variant is not compiled (for rarely hot kernels).
template <int N, typename F, bool SmallIndex = true>
void launch_elementwise(const Context& ctx, const kiln_tensor_desc* const (&descs)[N], const F& f,
                        const char* kernel) {
  const kiln_tensor_desc& out = *descs[0];
  const int64_t n = numel(out);
  if (n == 0) return;
  bool contiguous = true;
  for (int k = 0; k < N; ++k) contiguous = contiguous && is_contiguous(*descs[k]);
  if (contiguous) {
    contiguous_kernel<N, F><<<grid_for(n), kThreads, 0, ctx.cu_stream>>>(n, f);
  } else {
    const int64_t* strides[N];
    for (int k = 0; k < N; ++k) strides[k] = descs[k]->strides;
    Layout<N> layout = make_layout<N>(out.shape, out.ndim, strides);
    if (SmallIndex && fits_int32(layout, n)) {
      strided_kernel<N, std::conditional_t<SmallIndex, int32_t, int64_t>, F><<<grid_for(n), kThreads, 0, ctx.cu_stream>>>(layout, static_cast<int32_t>(n), f);
    } else {
      strided_kernel<N, int64_t, F><<<grid_for(n), kThreads, 0, ctx.cu_stream>>>(layout, n, f);
    }
  }
  check_launch(ctx, kernel);
}

// ---- reductions inside a block (blockDim.x a multiple of 32, every thread participates) ----
template <typename T>
__device__ __forceinline__ T shfl_down(T v, int offset) {
  if constexpr (std::is_integral_v<T> && sizeof(T) < 4) {
    return static_cast<T>(__shfl_down_sync(0xffffffffu, static_cast<int>(v), offset));
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return static_cast<int64_t>(__shfl_down_sync(0xffffffffu, static_cast<long long>(v), offset));
  } else {
    return __shfl_down_sync(0xffffffffu, v, offset);
  }
}

template <typename T>
__device__ __forceinline__ T shfl_idx(T v, int lane) {
  if constexpr (std::is_integral_v<T> && sizeof(T) < 4) {
    return static_cast<T>(__shfl_sync(0xffffffffu, static_cast<int>(v), lane));
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return static_cast<int64_t>(__shfl_sync(0xffffffffu, static_cast<long long>(v), lane));
  } else {
    return __shfl_sync(0xffffffffu, v, lane);
  }
}

template <typename T, typename Combine>
__device__ __forceinline__ T warp_reduce(T v, Combine combine) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v = combine(v, shfl_down(v, offset));
  return v;
}

// The combined value of every thread's v, returned to all threads of the block.
template <typename T, typename Combine>
__device__ T block_reduce(T v, Combine combine) {
  __shared__ __align__(16) unsigned char raw[32 * sizeof(T)];
  T* shared = reinterpret_cast<T*>(raw);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, num_warps = (blockDim.x + 31) >> 5;
  v = warp_reduce(v, combine);
  if (num_warps == 1) return shfl_idx(v, 0);
  __syncthreads();  // the previous call's readers are done with shared[0]
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    T acc = shared[0];
    for (int w = 1; w < num_warps; ++w) acc = combine(acc, shared[w]);
    shared[0] = acc;
  }
  __syncthreads();
  return shared[0];
}

// Threads per block for a per-row reduction of `length` elements: a multiple of 32 in [32, 512].
inline int row_threads(int64_t length) {
  int t = 32;
  while (t < 512 && t < length) t *= 2;
  return t;
}

}  // namespace kiln::cuda

#endif  // KILN_BACKENDS_CUDA_KERNELS_CUH
