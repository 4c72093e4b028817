// SOFTMAX, LOG_SOFTMAX and their backward passes over one axis: one block per row.
#include "kernels.cuh"
#include "ops.hpp"

namespace kiln::cuda {
namespace {

// A tensor seen as rows along `axis`: where row r starts, and the step along the axis.
struct RowView {
  Strided outer;
  int64_t axis_stride;
};

RowView make_row_view(const kiln_tensor_desc& d, int32_t axis) {
  kiln_tensor_desc outer{};
  for (int32_t k = 0; k < d.ndim; ++k) {
    if (k == axis) continue;
    outer.shape[outer.ndim] = d.shape[k];
    outer.strides[outer.ndim] = d.strides[k];
    ++outer.ndim;
  }
  return RowView{make_strided(outer), d.strides[axis]};
}

struct MaxNaN {
  template <typename T>
  __device__ T operator()(T a, T b) const {
    return is_nan(a) ? a : is_nan(b) ? b : (a > b ? a : b);
  }
};
struct Add {
  template <typename T>
  __device__ T operator()(T a, T b) const {
    return a + b;
  }
};

template <typename T>
__global__ void softmax_kernel(const T* x, RowView xv, T* y, RowView yv, int64_t rows, int64_t length, bool log) {
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + strided_offset(xv.outer, row);
    T* yr = y + strided_offset(yv.outer, row);
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t i = threadIdx.x; i < length; i += blockDim.x) m = MaxNaN{}(m, xr[i * xv.axis_stride]);
    m = block_reduce(m, MaxNaN{});
    T sum = T(0);
    for (int64_t i = threadIdx.x; i < length; i += blockDim.x) sum += m_exp(xr[i * xv.axis_stride] - m);
    sum = block_reduce(sum, Add{});
    if (log) {
      const T log_sum = m_log(sum);
      for (int64_t i = threadIdx.x; i < length; i += blockDim.x)
        yr[i * yv.axis_stride] = xr[i * xv.axis_stride] - m - log_sum;
    } else {
      const T inv = T(1) / sum;
      for (int64_t i = threadIdx.x; i < length; i += blockDim.x)
        yr[i * yv.axis_stride] = m_exp(xr[i * xv.axis_stride] - m) * inv;
    }
  }
}

// softmax: dx = y * (dy - sum(dy * y)); log_softmax: dx = dy - exp(y) * sum(dy)
template <typename T>
__global__ void softmax_backward_kernel(const T* dy, RowView dyv, const T* y, RowView yv, T* dx, RowView dxv,
                                        int64_t rows, int64_t length, bool log) {
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* dyr = dy + strided_offset(dyv.outer, row);
    const T* yr = y + strided_offset(yv.outer, row);
    T* dxr = dx + strided_offset(dxv.outer, row);
    T sum = T(0);
    for (int64_t i = threadIdx.x; i < length; i += blockDim.x) {
      const T g = dyr[i * dyv.axis_stride];
      sum += log ? g : g * yr[i * yv.axis_stride];
    }
    sum = block_reduce(sum, Add{});
    for (int64_t i = threadIdx.x; i < length; i += blockDim.x) {
      const T g = dyr[i * dyv.axis_stride], v = yr[i * yv.axis_stride];
      dxr[i * dxv.axis_stride] = log ? g - m_exp(v) * sum : v * (g - sum);
    }
  }
}

}  // namespace

void run_softmax(const Context& ctx, const kiln_tensor_desc* in, int32_t num_inputs, const kiln_tensor_desc& out,
                 const kiln_axis_attrs& attrs) {
  for (int32_t i = 0; i < num_inputs; ++i)
    if (!same_shape(in[i], out))
      fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", ctx.op_name, ": input ", i, " shape ", shape_string(in[i]),
           " differs from output shape ", shape_string(out));
  const int32_t axis = attrs.axis;
  if (axis < 0 || axis >= out.ndim)
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", ctx.op_name, ": axis ", axis, " out of range for shape ",
         shape_string(out));
  const int64_t length = out.shape[axis];
  if (numel(out) == 0) return;
  const int64_t rows = numel(out) / length;
  const bool log = ctx.op == KILN_OP_LOG_SOFTMAX || ctx.op == KILN_OP_LOG_SOFTMAX_BACKWARD;
  const unsigned grid = grid_for(rows, 1);
  const int threads = row_threads(length);
  dispatch_float(ctx, out.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (num_inputs == 1) {
      softmax_kernel<T><<<grid, threads, 0, ctx.cu_stream>>>(base_ptr_as<T>(in[0]), make_row_view(in[0], axis),
                                                              base_ptr_as<T>(out), make_row_view(out, axis), rows,
                                                              length, log);
      check_launch(ctx, "softmax_kernel");
    } else {
      softmax_backward_kernel<T><<<grid, threads, 0, ctx.cu_stream>>>(
          base_ptr_as<T>(in[0]), make_row_view(in[0], axis), base_ptr_as<T>(in[1]), make_row_view(in[1], axis),
          base_ptr_as<T>(out), make_row_view(out, axis), rows, length, log);
      check_launch(ctx, "softmax_backward_kernel");
    }
  });
}

}  // namespace kiln::cuda
