// Reductions over any set of axes (SUM MEAN PROD MAX MIN LOGSUMEXP VAR) and ARGMAX/ARGMIN.
//
// Note [Reduction layout]: the input's dimensions are split into kept ("outer") and reduced
// ("inner") ones, each collapsed on its own, so no permuted copy is made: output element o reads
// input[outer_offset(o) + inner_offset(r)] for r in [0, R). The output has keepdim shape and is
// contiguous, so its linear order is the outer order. Three strategies:
//  - rows: one block per output, threads stride over R (reductions along contiguous memory);
//  - cols: one thread per output, serial over R (many outputs; reads coalesce across outputs);
//  - split: few outputs and a long R (a full reduction): blocks reduce chunks of R into partials,
//    a second kernel combines them.
// LOGSUMEXP and VAR run two reductions: the max (mean) first, then the sum that uses it.
#include "kernels.cuh"
#include "ops.hpp"

namespace kiln::cuda {
namespace {

struct ReduceLayout {
  Strided outer;
  Strided inner;
  int64_t num_outputs;
  int64_t length;  // R
};

// Two reduced dimensions (batch norm's [N, H*W] of an NCHW tensor) take one 32-bit division
// instead of strided_offset's 64-bit ones, which would make the reduction compute-bound.
__device__ __forceinline__ int64_t inner_offset(const Strided& inner, int64_t r) {
  if (inner.ndim <= 1) return r * inner.strides[0];
  if (inner.ndim == 2 && r <= 0xffffffffll) {
    const uint32_t rr = static_cast<uint32_t>(r), size1 = static_cast<uint32_t>(inner.shape[1]);
    const uint32_t i0 = rr / size1, i1 = rr - i0 * size1;
    return static_cast<int64_t>(i0) * inner.strides[0] + static_cast<int64_t>(i1) * inner.strides[1];
  }
  return strided_offset(inner, r);
}

// Integer sums and products accumulate in 64-bit unsigned arithmetic: it wraps instead of
// overflowing, and truncating to the output type gives the same bits as wrapping in that type.
template <typename T>
using WideAcc = std::conditional_t<std::is_floating_point_v<T>, T, uint64_t>;
template <typename T>
__device__ __forceinline__ WideAcc<T> widen(T x) {
  if constexpr (std::is_floating_point_v<T>) {
    return x;
  } else {
    return static_cast<uint64_t>(static_cast<int64_t>(x));
  }
}

// A policy: Acc type, identity, map (element -> Acc, given the output's precomputed value),
// combine, finalize (Acc -> output, given the count and the precomputed value).
template <typename T>
struct SumP {
  using Acc = WideAcc<T>;
  __device__ static Acc identity() { return Acc(0); }
  __device__ static Acc map(T x, T) { return widen(x); }
  __device__ static Acc combine(Acc a, Acc b) { return a + b; }
  __device__ static T finalize(Acc a, int64_t, T, double) { return static_cast<T>(a); }
};
template <typename T>
struct ProdP {
  using Acc = WideAcc<T>;
  __device__ static Acc identity() { return Acc(1); }
  __device__ static Acc map(T x, T) { return widen(x); }
  __device__ static Acc combine(Acc a, Acc b) { return a * b; }
  __device__ static T finalize(Acc a, int64_t, T, double) { return static_cast<T>(a); }
};
template <typename T>
struct MaxP {  // NaN propagates
  using Acc = T;
  __device__ static Acc identity() {
    return std::is_floating_point_v<T> ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
  }
  __device__ static Acc map(T x, T) { return x; }
  __device__ static Acc combine(Acc a, Acc b) { return is_nan(a) ? a : is_nan(b) ? b : (a > b ? a : b); }
  __device__ static T finalize(Acc a, int64_t, T, double) { return a; }
};
template <typename T>
struct MinP {
  using Acc = T;
  __device__ static Acc identity() {
    return std::is_floating_point_v<T> ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
  }
  __device__ static Acc map(T x, T) { return x; }
  __device__ static Acc combine(Acc a, Acc b) { return is_nan(a) ? a : is_nan(b) ? b : (a < b ? a : b); }
  __device__ static T finalize(Acc a, int64_t, T, double) { return a; }
};
template <typename T>
struct MeanP {  // empty: 0 / 0 = NaN
  using Acc = T;
  __device__ static Acc identity() { return T(0); }
  __device__ static Acc map(T x, T) { return x; }
  __device__ static Acc combine(Acc a, Acc b) { return a + b; }
  __device__ static T finalize(Acc a, int64_t n, T, double) { return a / static_cast<T>(n); }
};
// pre = the max; an infinite max is replaced by 0 so that all -inf gives -inf and +inf gives +inf.
template <typename T>
__device__ __forceinline__ T lse_shift(T m) {
  return (m == std::numeric_limits<T>::infinity() || m == -std::numeric_limits<T>::infinity()) ? T(0) : m;
}
template <typename T>
struct LogSumExpP {  // empty: log(0) = -inf
  using Acc = T;
  __device__ static Acc identity() { return T(0); }
  __device__ static Acc map(T x, T m) { return m_exp(x - lse_shift(m)); }
  __device__ static Acc combine(Acc a, Acc b) { return a + b; }
  __device__ static T finalize(Acc a, int64_t, T m, double) { return m_log(a) + lse_shift(m); }
};
template <typename T>
struct VarP {  // pre = the mean; divisor max(0, n - correction), as PyTorch; empty: NaN
  using Acc = T;
  __device__ static Acc identity() { return T(0); }
  __device__ static Acc map(T x, T mean) { return (x - mean) * (x - mean); }
  __device__ static Acc combine(Acc a, Acc b) { return a + b; }
  __device__ static T finalize(Acc a, int64_t n, T, double correction) {
    if (n == 0) return std::numeric_limits<T>::quiet_NaN();
    return static_cast<T>(static_cast<double>(a) / fmax(0.0, static_cast<double>(n) - correction));
  }
};

template <typename P>
struct Combine {
  template <typename A>
  __device__ A operator()(A a, A b) const {
    return P::combine(a, b);
  }
};

// One thread's share of a row: elements first, first + step, ... below end, combined in four
// independent accumulators so that four loads are in flight at once (a single chain of
// dependent adds leaves the memory system idle between loads).
template <typename T, typename P>
__device__ __forceinline__ typename P::Acc strided_accumulate(const T* base, const Strided& inner, T p, int64_t first,
                                                              int64_t end, int64_t step) {
  using Acc = typename P::Acc;
  Acc a0 = P::identity(), a1 = P::identity(), a2 = P::identity(), a3 = P::identity();
  int64_t r = first;
  for (; r + 3 * step < end; r += 4 * step) {
    const T x0 = base[inner_offset(inner, r)], x1 = base[inner_offset(inner, r + step)];
    const T x2 = base[inner_offset(inner, r + 2 * step)], x3 = base[inner_offset(inner, r + 3 * step)];
    a0 = P::combine(a0, P::map(x0, p));
    a1 = P::combine(a1, P::map(x1, p));
    a2 = P::combine(a2, P::map(x2, p));
    a3 = P::combine(a3, P::map(x3, p));
  }
  for (; r < end; r += step) a0 = P::combine(a0, P::map(base[inner_offset(inner, r)], p));
  return P::combine(P::combine(a0, a1), P::combine(a2, a3));
}

template <typename T, typename P>
__global__ void reduce_rows_kernel(const T* in, T* out, const T* pre, ReduceLayout layout, double correction) {
  using Acc = typename P::Acc;
  for (int64_t o = blockIdx.x; o < layout.num_outputs; o += gridDim.x) {
    const T* base = in + strided_offset(layout.outer, o);
    const T p = pre ? pre[o] : T(0);
    Acc acc = strided_accumulate<T, P>(base, layout.inner, p, threadIdx.x, layout.length, blockDim.x);
    acc = block_reduce(acc, Combine<P>{});
    if (threadIdx.x == 0) out[o] = P::finalize(acc, layout.length, p, correction);
  }
}

template <typename T, typename P>
__global__ void reduce_cols_kernel(const T* in, T* out, const T* pre, ReduceLayout layout, double correction) {
  using Acc = typename P::Acc;
  for (int64_t o = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; o < layout.num_outputs;
       o += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const T* base = in + strided_offset(layout.outer, o);
    const T p = pre ? pre[o] : T(0);
    Acc acc = P::identity();
    for (int64_t r = 0; r < layout.length; ++r) acc = P::combine(acc, P::map(base[inner_offset(layout.inner, r)], p));
    out[o] = P::finalize(acc, layout.length, p, correction);
  }
}

// grid.x = chunks, grid.y strides over outputs; partial[o * chunks + chunk].
template <typename T, typename P>
__global__ void reduce_split_kernel(const T* in, typename P::Acc* partial, const T* pre, ReduceLayout layout,
                                    int64_t chunk_length) {
  using Acc = typename P::Acc;
  const int64_t begin = blockIdx.x * chunk_length;
  const int64_t end = min(begin + chunk_length, layout.length);
  for (int64_t o = blockIdx.y; o < layout.num_outputs; o += gridDim.y) {
    const T* base = in + strided_offset(layout.outer, o);
    const T p = pre ? pre[o] : T(0);
    Acc acc = strided_accumulate<T, P>(base, layout.inner, p, begin + threadIdx.x, end, blockDim.x);
    acc = block_reduce(acc, Combine<P>{});
    if (threadIdx.x == 0) partial[o * gridDim.x + blockIdx.x] = acc;
  }
}

template <typename T, typename P>
__global__ void reduce_partials_kernel(const typename P::Acc* partial, int chunks, T* out, const T* pre,
                                       int64_t num_outputs, int64_t length, double correction) {
  using Acc = typename P::Acc;
  for (int64_t o = blockIdx.x; o < num_outputs; o += gridDim.x) {
    Acc acc = P::identity();
    for (int c = threadIdx.x; c < chunks; c += blockDim.x) acc = P::combine(acc, partial[o * chunks + c]);
    acc = block_reduce(acc, Combine<P>{});
    if (threadIdx.x == 0) out[o] = P::finalize(acc, length, pre ? pre[o] : T(0), correction);
  }
}

template <typename T, typename P>
void reduce_impl(const Context& ctx, const ReduceLayout& layout, const T* in, T* out, const T* pre,
                 double correction) {
  const int64_t n = layout.num_outputs, r = layout.length;
  if (n == 0) return;
  const bool inner_contiguous = layout.inner.ndim <= 1 && layout.inner.strides[0] == 1;
  const cudaStream_t s = ctx.cu_stream;
  if (r <= 16 || (n >= 4096 && (!inner_contiguous || r <= 64))) {
    reduce_cols_kernel<T, P><<<grid_for(n), kThreads, 0, s>>>(in, out, pre, layout, correction);
    check_launch(ctx, "reduce_cols_kernel");
  } else if (n <= 256 && r >= 65536) {
    using Acc = typename P::Acc;
    const int64_t max_chunks = std::max<int64_t>(1, 2048 / n);
    const int64_t chunks = std::min<int64_t>(max_chunks, (r + 8191) / 8192);
    const int64_t chunk_length = (r + chunks - 1) / chunks;
    Workspace partial(ctx, static_cast<size_t>(n * chunks) * sizeof(Acc));
    dim3 grid(static_cast<unsigned>(chunks), static_cast<unsigned>(std::min<int64_t>(n, 65535)));
    reduce_split_kernel<T, P><<<grid, 512, 0, s>>>(in, partial.as<Acc>(), pre, layout, chunk_length);
    check_launch(ctx, "reduce_split_kernel");
    reduce_partials_kernel<T, P><<<grid_for(n, 1), row_threads(chunks), 0, s>>>(
        partial.as<Acc>(), static_cast<int>(chunks), out, pre, n, r, correction);
    check_launch(ctx, "reduce_partials_kernel");
  } else {
    reduce_rows_kernel<T, P><<<grid_for(n, 1), row_threads(r), 0, s>>>(in, out, pre, layout, correction);
    check_launch(ctx, "reduce_rows_kernel");
  }
}

ReduceLayout make_reduce_layout(const Context& ctx, const kiln_tensor_desc& in, const kiln_tensor_desc& out,
                                const int32_t* axes, int32_t num_axes) {
  if (out.ndim != in.ndim)
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", ctx.op_name, ": output rank ", out.ndim, " differs from input rank ",
         in.ndim, " (keepdim shape expected)");
  if (num_axes < 0 || num_axes > in.ndim)
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", ctx.op_name, ": ", num_axes, " axes for a rank-", in.ndim, " input");
  bool reduced[KILN_MAX_DIMS] = {};
  for (int32_t i = 0; i < num_axes; ++i) {
    const int32_t a = axes[i];
    if (a < 0 || a >= in.ndim || reduced[a])
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", ctx.op_name, ": axis ", a, " is out of range or repeated for input ",
           shape_string(in));
    reduced[a] = true;
  }
  kiln_tensor_desc outer{}, inner{};
  for (int32_t d = 0; d < in.ndim; ++d) {
    const int64_t expected = reduced[d] ? 1 : in.shape[d];
    if (out.shape[d] != expected)
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", ctx.op_name, ": output shape ", shape_string(out),
           " is not the keepdim shape for input ", shape_string(in));
    kiln_tensor_desc& part = reduced[d] ? inner : outer;
    part.shape[part.ndim] = in.shape[d];
    part.strides[part.ndim] = in.strides[d];
    ++part.ndim;
  }
  if (!is_contiguous(out))
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", ctx.op_name, ": the output must be contiguous");
  ReduceLayout layout{};
  layout.outer = make_strided(outer);
  layout.inner = make_strided(inner);
  layout.num_outputs = numel(outer);
  layout.length = numel(inner);
  return layout;
}

// ---- ARGMAX / ARGMIN ----
template <typename T>
struct ArgPair {
  T value;
  int64_t index;  // -1: none yet
};

// First occurrence wins; NaN beats everything (the first NaN).
template <typename T>
__device__ __forceinline__ ArgPair<T> arg_better(ArgPair<T> a, ArgPair<T> b, bool is_max) {
  if (a.index < 0) return b;
  if (b.index < 0) return a;
  const bool a_nan = is_nan(a.value), b_nan = is_nan(b.value);
  if (a_nan || b_nan) {
    if (a_nan && b_nan) return a.index < b.index ? a : b;
    return a_nan ? a : b;
  }
  if (a.value == b.value) return a.index < b.index ? a : b;
  return (is_max ? a.value > b.value : a.value < b.value) ? a : b;
}

template <typename T>
__device__ ArgPair<T> arg_block_reduce(ArgPair<T> v, bool is_max) {
  __shared__ T values[32];
  __shared__ int64_t indices[32];
  for (int offset = 16; offset > 0; offset >>= 1) {
    ArgPair<T> other{shfl_down(v.value, offset), shfl_down(v.index, offset)};
    v = arg_better(v, other, is_max);
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, num_warps = (blockDim.x + 31) >> 5;
  if (lane == 0) {
    values[warp] = v.value;
    indices[warp] = v.index;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < num_warps; ++w) v = arg_better(v, ArgPair<T>{values[w], indices[w]}, is_max);
  }
  __syncthreads();  // the next output's writes wait for this read
  return v;
}

template <typename T>
__global__ void arg_rows_kernel(const T* in, int64_t* out, ReduceLayout layout, bool is_max) {
  for (int64_t o = blockIdx.x; o < layout.num_outputs; o += gridDim.x) {
    const T* base = in + strided_offset(layout.outer, o);
    ArgPair<T> best{T(0), -1};
    for (int64_t r = threadIdx.x; r < layout.length; r += blockDim.x)
      best = arg_better(best, ArgPair<T>{base[r * layout.inner.strides[0]], r}, is_max);
    best = arg_block_reduce(best, is_max);
    if (threadIdx.x == 0) out[o] = best.index;
  }
}

template <typename T>
__global__ void arg_cols_kernel(const T* in, int64_t* out, ReduceLayout layout, bool is_max) {
  for (int64_t o = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; o < layout.num_outputs;
       o += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const T* base = in + strided_offset(layout.outer, o);
    ArgPair<T> best{T(0), -1};
    for (int64_t r = 0; r < layout.length; ++r)
      best = arg_better(best, ArgPair<T>{base[r * layout.inner.strides[0]], r}, is_max);
    out[o] = best.index;
  }
}

}  // namespace

void run_reduce(const Context& ctx, const kiln_tensor_desc& in, const kiln_tensor_desc& out,
                const kiln_reduce_attrs& attrs) {
  const ReduceLayout layout = make_reduce_layout(ctx, in, out, attrs.axes, attrs.num_axes);
  if (layout.length == 0 && (ctx.op == KILN_OP_MAX || ctx.op == KILN_OP_MIN) && layout.num_outputs > 0)
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", ctx.op_name, ": reduction over an empty axis of input ",
         shape_string(in), " has no identity");
  const double correction = attrs.correction;
  switch (ctx.op) {
    case KILN_OP_SUM:
    case KILN_OP_PROD:
    case KILN_OP_MAX:
    case KILN_OP_MIN:
      dispatch_numeric(ctx, in.dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* src = base_ptr_as<T>(in);
        T* dst = base_ptr_as<T>(out);
        switch (ctx.op) {
          case KILN_OP_SUM: reduce_impl<T, SumP<T>>(ctx, layout, src, dst, nullptr, 0); break;
          case KILN_OP_PROD: reduce_impl<T, ProdP<T>>(ctx, layout, src, dst, nullptr, 0); break;
          case KILN_OP_MAX: reduce_impl<T, MaxP<T>>(ctx, layout, src, dst, nullptr, 0); break;
          default: reduce_impl<T, MinP<T>>(ctx, layout, src, dst, nullptr, 0); break;
        }
      });
      return;
    default:
      dispatch_float(ctx, in.dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* src = base_ptr_as<T>(in);
        T* dst = base_ptr_as<T>(out);
        if (ctx.op == KILN_OP_MEAN) {
          reduce_impl<T, MeanP<T>>(ctx, layout, src, dst, nullptr, 0);
          return;
        }
        Workspace pre(ctx, static_cast<size_t>(layout.num_outputs) * sizeof(T));
        if (ctx.op == KILN_OP_LOGSUMEXP) {
          reduce_impl<T, MaxP<T>>(ctx, layout, src, pre.as<T>(), nullptr, 0);
          reduce_impl<T, LogSumExpP<T>>(ctx, layout, src, dst, pre.as<T>(), 0);
        } else {  // VAR
          reduce_impl<T, MeanP<T>>(ctx, layout, src, pre.as<T>(), nullptr, 0);
          reduce_impl<T, VarP<T>>(ctx, layout, src, dst, pre.as<T>(), correction);
        }
      });
      return;
  }
}

void run_argreduce(const Context& ctx, const kiln_tensor_desc& in, const kiln_tensor_desc& out,
                   const kiln_reduce_attrs& attrs) {
  if (attrs.num_axes != 1)
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", ctx.op_name, " reduces exactly one axis, got ", attrs.num_axes);
  const ReduceLayout layout = make_reduce_layout(ctx, in, out, attrs.axes, 1);
  if (layout.num_outputs == 0) return;
  if (layout.length == 0)
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", ctx.op_name, ": axis ", attrs.axes[0], " of input ",
         shape_string(in), " is empty");
  const bool is_max = ctx.op == KILN_OP_ARGMAX;
  dispatch_numeric(ctx, in.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* src = base_ptr_as<T>(in);
    int64_t* dst = base_ptr_as<int64_t>(out);
    const int64_t n = layout.num_outputs;
    if (layout.length <= 16 || (n >= 4096 && layout.inner.strides[0] != 1)) {
      arg_cols_kernel<T><<<grid_for(n), kThreads, 0, ctx.cu_stream>>>(src, dst, layout, is_max);
      check_launch(ctx, "arg_cols_kernel");
    } else {
      arg_rows_kernel<T><<<grid_for(n, 1), row_threads(layout.length), 0, ctx.cu_stream>>>(src, dst, layout, is_max);
      check_launch(ctx, "arg_rows_kernel");
    }
  });
}

}  // namespace kiln::cuda
