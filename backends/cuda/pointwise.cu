// Pointwise ops: unary, unary with scalars, binary, comparisons, where and mul_add.
//
// Note [One kernel per dtype, op chosen at run time]: each functor holds the op code and switches
// on it per element. The switch is uniform across a launch, so it costs a predictable branch, and
// the plugin compiles ~90 elementwise kernels instead of ~500 (one per op and dtype).
#include "kernels.cuh"
#include "ops.hpp"

namespace kiln::cuda {
namespace {

template <typename T>
using Unsigned = std::conditional_t<std::is_same_v<T, bool>, uint8_t, std::make_unsigned_t<T>>;

// Scalar ops on floats compute in double with the attribute's exact value and round once, as the
// host backends do (so float32 `x * 0.1` matches them bit for bit).
template <typename T>
__device__ __forceinline__ T unary_apply(int op, T x, T a, T b, double a_double, double b_double) {
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case KILN_OP_NEG: return -x;
      case KILN_OP_ABS: return m_fabs(x);
      case KILN_OP_SIGN: return is_nan(x) ? x : T((x > T(0)) - (x < T(0)));
      case KILN_OP_EXP: return m_exp(x);
      case KILN_OP_LOG: return m_log(x);
      case KILN_OP_SQRT: return m_sqrt(x);
      case KILN_OP_RSQRT: return T(1) / m_sqrt(x);
      case KILN_OP_SIN: return m_sin(x);
      case KILN_OP_COS: return m_cos(x);
      case KILN_OP_FLOOR: return m_floor(x);
      case KILN_OP_RELU: return x < T(0) ? T(0) : x;  // NaN stays NaN
      case KILN_OP_SIGMOID: return T(1) / (T(1) + m_exp(-x));
      case KILN_OP_TANH: return m_tanh(x);
      case KILN_OP_GELU: return x * T(0.5) * (T(1) + m_erf(x * T(0.70710678118654752440)));
      case KILN_OP_ERF: return m_erf(x);
      case KILN_OP_ADD_SCALAR: return static_cast<T>(static_cast<double>(x) + a_double);
      case KILN_OP_MUL_SCALAR: return static_cast<T>(static_cast<double>(x) * a_double);
      case KILN_OP_POW_SCALAR: return m_pow(x, a);
      case KILN_OP_CLAMP: {  // NaN in x or in a bound propagates; +-inf bounds are no bound
        if (is_nan(x) || is_nan(a_double) || is_nan(b_double)) return std::numeric_limits<T>::quiet_NaN();
        const double v = fmin(fmax(static_cast<double>(x), a_double), b_double);
        return static_cast<T>(v);
      }
      case KILN_OP_LEAKY_RELU: return x > T(0) ? x : static_cast<T>(a_double * static_cast<double>(x));
      default: return x;
    }
  } else {
    // Integer dtypes: the scalars were converted to T (clamped, truncated); arithmetic wraps.
    using U = Unsigned<T>;
    (void)a_double;
    (void)b_double;
    switch (op) {
      case KILN_OP_NEG: return T(U(0) - U(x));
      case KILN_OP_ABS:
        if constexpr (std::is_signed_v<T>) return x < T(0) ? T(U(0) - U(x)) : x;
        return x;
      case KILN_OP_SIGN:
        if constexpr (std::is_signed_v<T>) return T((x > T(0)) - (x < T(0)));
        return T(x > T(0));
      case KILN_OP_FLOOR: return x;
      case KILN_OP_RELU: return x > T(0) ? x : T(0);
      case KILN_OP_ADD_SCALAR: return T(U(x) + U(a));
      case KILN_OP_MUL_SCALAR: return T(U(x) * U(a));
      case KILN_OP_CLAMP: x = x < a ? a : x; return x > b ? b : x;
      case KILN_OP_LEAKY_RELU: return x > T(0) ? x : T(U(a) * U(x));
      default: return x;
    }
  }
}

template <typename T>
__device__ __forceinline__ T binary_apply(int op, T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case KILN_OP_ADD: return a + b;
      case KILN_OP_SUB: return a - b;
      case KILN_OP_MUL: return a * b;
      case KILN_OP_DIV: return a / b;
      case KILN_OP_POW: return m_pow(a, b);
      case KILN_OP_MAXIMUM: return is_nan(a) ? a : is_nan(b) ? b : (a > b ? a : b);
      case KILN_OP_MINIMUM: return is_nan(a) ? a : is_nan(b) ? b : (a < b ? a : b);
      case KILN_OP_RELU_BACKWARD: return b > T(0) ? a : T(0);  // (grad_out, x)
      case KILN_OP_GELU_BACKWARD: {  // (grad_out, x): grad * (Phi(x) + x * phi(x))
        T cdf = T(0.5) * (T(1) + m_erf(b * T(0.70710678118654752440)));
        T pdf = m_exp(T(-0.5) * b * b) * T(0.39894228040143267794);
        return a * (cdf + b * pdf);
      }
      default: return a;
    }
  } else {
    using U = Unsigned<T>;
    switch (op) {
      case KILN_OP_ADD: return T(U(a) + U(b));
      case KILN_OP_SUB: return T(U(a) - U(b));
      case KILN_OP_MUL: return T(U(a) * U(b));
      case KILN_OP_DIV:  // truncating; x / 0 is 0; INT_MIN / -1 wraps instead of trapping
        if (b == T(0)) return T(0);
        if constexpr (std::is_signed_v<T>) {
          if (b == T(-1)) return T(U(0) - U(a));
        }
        return T(a / b);
      case KILN_OP_MAXIMUM: return a > b ? a : b;
      case KILN_OP_MINIMUM: return a < b ? a : b;
      default: return a;
    }
  }
}

template <typename T>
__device__ __forceinline__ bool compare_apply(int op, T a, T b) {
  switch (op) {
    case KILN_OP_EQ: return a == b;
    case KILN_OP_NE: return a != b;
    case KILN_OP_LT: return a < b;
    case KILN_OP_LE: return a <= b;
    case KILN_OP_GT: return a > b;
    case KILN_OP_GE: return a >= b;
    case KILN_OP_LOGICAL_NOT: return a == T(0);  // NaN counts as true, so its NOT is false
    default: return false;
  }
}

template <typename T>
struct UnaryFn {
  T* out;
  const T* in;
  int op;
  T a, b;
  double a_double, b_double;
  template <typename I>
  __device__ void operator()(const I* off) const {
    out[off[0]] = unary_apply<T>(op, in[off[1]], a, b, a_double, b_double);
  }
};

template <typename T>
struct BinaryFn {
  T* out;
  const T* a;
  const T* b;
  int op;
  template <typename I>
  __device__ void operator()(const I* off) const {
    out[off[0]] = binary_apply<T>(op, a[off[1]], b[off[2]]);
  }
};

// Comparisons, and LOGICAL_NOT (b unused).
template <typename T>
struct CompareFn {
  bool* out;
  const T* a;
  const T* b;
  int op;
  template <typename I>
  __device__ void operator()(const I* off) const {
    out[off[0]] = op == KILN_OP_LOGICAL_NOT ? compare_apply<T>(op, a[off[1]], T(0))
                                            : compare_apply<T>(op, a[off[1]], b[off[2]]);
  }
};

template <typename B>
struct WhereFn {
  B* out;
  const bool* cond;
  const B* a;
  const B* b;
  template <typename I>
  __device__ void operator()(const I* off) const {
    out[off[0]] = cond[off[1]] ? a[off[2]] : b[off[3]];
  }
};

template <typename T>
struct MulAddFn {
  T* out;
  const T* x;
  const T* y;
  const T* z;
  template <typename I>
  __device__ void operator()(const I* off) const {
    out[off[0]] = x[off[1]] * y[off[2]] + z[off[3]];
  }
};

// Note [Per-channel mul_add]: batch norm's passes are mul_add with per-channel operands, e.g.
// x [N, C, H, W] * scale [1, C, 1, 1] + shift [1, C, 1, 1], which reach the backend as 0-stride
// views. The generic strided kernel pays integer divisions per element for them; this kernel
// instead gives each block row one (n, c) plane of `inner` contiguous elements, reads the
// per-channel values once and streams the plane. Every operand is either full (contiguous, like
// the output) or per-channel (stride 1 along C, 0 elsewhere).
template <typename T>
__global__ void channel_mul_add_kernel(T* out, const T* x, const T* y, const T* z, unsigned per_channel,
                                       int64_t planes, int64_t channels, int64_t inner) {
  for (int64_t plane = blockIdx.y; plane < planes; plane += gridDim.y) {
    const int64_t c = plane % channels, base = plane * inner;
    const bool xc = per_channel & 1u, yc = per_channel & 2u, zc = per_channel & 4u;
    const T xs = xc ? x[c] : T(0), ys = yc ? y[c] : T(0), zs = zc ? z[c] : T(0);
    for (int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; j < inner;
         j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
      const int64_t i = base + j;
      out[i] = (xc ? xs : x[i]) * (yc ? ys : y[i]) + (zc ? zs : z[i]);
    }
  }
}

// The same for small planes (a 4x4 feature map would leave most of a plane-wide block idle): one
// flat grid, the channel from 32-bit division.
template <typename T>
__global__ void channel_mul_add_flat_kernel(T* out, const T* x, const T* y, const T* z, unsigned per_channel,
                                            uint32_t n, uint32_t channels, uint32_t inner) {
  const bool xc = per_channel & 1u, yc = per_channel & 2u, zc = per_channel & 4u;
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const uint32_t c = (i / inner) % channels;
    out[i] = x[xc ? c : i] * y[yc ? c : i] + z[zc ? c : i];
  }
}

// The same four elements at a time with 16-byte loads and stores, for float32 planes whose length
// is a multiple of 4 (so a group never straddles two channels) and 16-byte aligned full operands.
__global__ void channel_mul_add_vec4_kernel(float4* out, const float* x, const float* y, const float* z,
                                            unsigned per_channel, uint32_t groups, uint32_t channels,
                                            uint32_t inner_groups) {
  const bool xc = per_channel & 1u, yc = per_channel & 2u, zc = per_channel & 4u;
  for (uint32_t g = blockIdx.x * blockDim.x + threadIdx.x; g < groups; g += gridDim.x * blockDim.x) {
    const uint32_t c = (g / inner_groups) % channels;
    auto load = [&](const float* p, bool per_c) {
      if (per_c) {
        const float v = p[c];
        return make_float4(v, v, v, v);
      }
      return reinterpret_cast<const float4*>(p)[g];
    };
    const float4 a = load(x, xc), b = load(y, yc), d = load(z, zc);
    out[g] = make_float4(a.x * b.x + d.x, a.y * b.y + d.y, a.z * b.z + d.z, a.w * b.w + d.w);
  }
}

// Launches channel_mul_add_kernel if the four tensors have that shape (Note [Per-channel
// mul_add]); false if not, for the generic kernel to take them.
bool try_channel_mul_add(const Context& ctx, const kiln_tensor_desc& out, const kiln_tensor_desc* in) {
  if (!is_contiguous(out) || out.ndim < 2) return false;
  // Split the shape at the channel axis: the first axis of which some operand is per-channel.
  int64_t channels = 0, outer = 1, inner = 1;
  int axis = -1;
  for (int k = 0; k < 3 && axis < 0; ++k) {
    if (is_contiguous(in[k])) continue;
    for (int d = 0; d < in[k].ndim; ++d)
      if (in[k].strides[d] == 1 && in[k].shape[d] > 1) {
        axis = d;
        break;
      }
    if (axis < 0) return false;  // a broadcast operand with no unit-stride axis (a scalar, say)
  }
  if (axis < 0) return false;  // all contiguous: the generic contiguous kernel is as good
  for (int d = 0; d < out.ndim; ++d) {
    if (d < axis) outer *= out.shape[d];
    if (d > axis) inner *= out.shape[d];
  }
  channels = out.shape[axis];
  unsigned per_channel = 0;
  for (int k = 0; k < 3; ++k) {
    if (is_contiguous(in[k])) continue;
    for (int d = 0; d < in[k].ndim; ++d)
      if (in[k].shape[d] > 1 && in[k].strides[d] != (d == axis ? 1 : 0)) return false;
    per_channel |= 1u << k;
  }
  if (outer * channels > (int64_t{1} << 40)) return false;
  dispatch_float(ctx, out.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t planes = outer * channels, n = planes * inner;
    bool aligned = reinterpret_cast<uintptr_t>(base_ptr(out)) % 16 == 0;
    for (int k = 0; k < 3; ++k)
      if (!(per_channel & (1u << k))) aligned = aligned && reinterpret_cast<uintptr_t>(base_ptr(in[k])) % 16 == 0;
    if constexpr (std::is_same_v<T, float>) {
      if (aligned && inner % 4 == 0 && n <= std::numeric_limits<int32_t>::max() / 2) {
        const int64_t groups = n / 4;
        channel_mul_add_vec4_kernel<<<grid_for(groups), kThreads, 0, ctx.cu_stream>>>(
            reinterpret_cast<float4*>(base_ptr(out)), base_ptr_as<float>(in[0]), base_ptr_as<float>(in[1]),
            base_ptr_as<float>(in[2]), per_channel, static_cast<uint32_t>(groups), static_cast<uint32_t>(channels),
            static_cast<uint32_t>(inner / 4));
        return;
      }
    }
    if (inner < 128 && n <= std::numeric_limits<int32_t>::max() / 2) {
      channel_mul_add_flat_kernel<T><<<grid_for(n), kThreads, 0, ctx.cu_stream>>>(
          base_ptr_as<T>(out), base_ptr_as<T>(in[0]), base_ptr_as<T>(in[1]), base_ptr_as<T>(in[2]), per_channel,
          static_cast<uint32_t>(n), static_cast<uint32_t>(channels), static_cast<uint32_t>(inner));
      return;
    }
    const unsigned blocks_x = static_cast<unsigned>(std::min<int64_t>((inner + kThreads - 1) / kThreads, 64));
    const unsigned blocks_y = static_cast<unsigned>(std::min<int64_t>(planes, 65535));
    channel_mul_add_kernel<T><<<dim3(blocks_x, blocks_y), kThreads, 0, ctx.cu_stream>>>(
        base_ptr_as<T>(out), base_ptr_as<T>(in[0]), base_ptr_as<T>(in[1]), base_ptr_as<T>(in[2]), per_channel,
        planes, channels, inner);
  });
  check_launch(ctx, "channel_mul_add_kernel");
  return true;
}

void check_same_shape(const Context& ctx, const kiln_tensor_desc& in, const kiln_tensor_desc& out) {
  if (!same_shape(in, out))
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", ctx.op_name, ": input shape ", shape_string(in),
         " differs from output shape ", shape_string(out), " (the host broadcasts pointwise inputs)");
}

}  // namespace

void run_pointwise(const Context& ctx, const kiln_tensor_desc* in, int32_t num_inputs, const kiln_tensor_desc& out,
                   const void* attrs) {
  for (int32_t i = 0; i < num_inputs; ++i) check_same_shape(ctx, in[i], out);
  const int op = ctx.op;
  switch (ctx.op) {
    case KILN_OP_EQ:
    case KILN_OP_NE:
    case KILN_OP_LT:
    case KILN_OP_LE:
    case KILN_OP_GT:
    case KILN_OP_GE:
    case KILN_OP_LOGICAL_NOT: {
      const kiln_tensor_desc& b = num_inputs > 1 ? in[1] : in[0];
      dispatch_all(ctx, in[0].dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        CompareFn<T> f{base_ptr_as<bool>(out), base_ptr_as<T>(in[0]), base_ptr_as<T>(b), op};
        const kiln_tensor_desc* descs[3] = {&out, &in[0], &b};
        launch_elementwise<3>(ctx, descs, f, "compare_kernel");
      });
      return;
    }
    case KILN_OP_WHERE:
      dispatch_bits(ctx, out.dtype, [&](auto tag) {
        using B = typename decltype(tag)::type;
        WhereFn<B> f{base_ptr_as<B>(out), base_ptr_as<bool>(in[0]), base_ptr_as<B>(in[1]), base_ptr_as<B>(in[2])};
        const kiln_tensor_desc* descs[4] = {&out, &in[0], &in[1], &in[2]};
        launch_elementwise<4>(ctx, descs, f, "where_kernel");
      });
      return;
    case KILN_OP_MUL_ADD:
      if (try_channel_mul_add(ctx, out, in)) return;
      dispatch_float(ctx, out.dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        MulAddFn<T> f{base_ptr_as<T>(out), base_ptr_as<T>(in[0]), base_ptr_as<T>(in[1]), base_ptr_as<T>(in[2])};
        const kiln_tensor_desc* descs[4] = {&out, &in[0], &in[1], &in[2]};
        launch_elementwise<4>(ctx, descs, f, "mul_add_kernel");
      });
      return;
    default: break;
  }
  if (num_inputs == 2) {
    dispatch_numeric(ctx, out.dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      BinaryFn<T> f{base_ptr_as<T>(out), base_ptr_as<T>(in[0]), base_ptr_as<T>(in[1]), op};
      const kiln_tensor_desc* descs[3] = {&out, &in[0], &in[1]};
      launch_elementwise<3>(ctx, descs, f, "binary_kernel");
    });
    return;
  }
  const auto* scalars = static_cast<const kiln_scalar_attrs*>(attrs);
  const double a = scalars ? scalars->a : 0.0, b = scalars ? scalars->b : 0.0;
  dispatch_numeric(ctx, out.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    // Integer dtypes take the scalars converted to T first (clamped, truncated), as the host
    // backends do; +-inf clamp bounds become the dtype's limits, i.e. no bound.
    UnaryFn<T> f{base_ptr_as<T>(out), base_ptr_as<T>(in[0]), op, convert<T>(a), convert<T>(b), a, b};
    const kiln_tensor_desc* descs[2] = {&out, &in[0]};
    launch_elementwise<2>(ctx, descs, f, "unary_kernel");
  });
}

}  // namespace kiln::cuda
