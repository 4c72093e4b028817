// UNIFORM, NORMAL and BERNOULLI with the ABI's counter-based Philox4x32-10 (philox.h), so each
// element is computed independently and the numbers equal the host backends'. This file is built
// with --fmad=false (see CMakeLists.txt): `lo + (hi - lo) * u` must round as on the host, which
// makes float32 uniform and bernoulli identical bit for bit. NORMAL uses the device's log and cos,
// which may differ from the host's libm in the last bit of a double.
#include "kernels.cuh"
#include "ops.hpp"

#define KILN_PHILOX_QUALIFIER static __host__ __device__ inline
#include <kiln/plugin/philox.h>

namespace kiln::cuda {
namespace {

template <typename T>
__global__ void random_kernel(T* out, Strided layout, bool contiguous, int64_t n, int op, uint64_t seed,
                              uint64_t offset, double a, double b) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const uint64_t counter = offset + static_cast<uint64_t>(i);
    double v;
    if (op == KILN_OP_UNIFORM) {
      // float32 draws 24 bits; float64 and the integer dtypes (floored) draw 53, as the host backends do.
      v = kiln_random_uniform(seed, counter, std::is_same_v<T, float> ? 0 : 1, a, b);
      if constexpr (std::is_integral_v<T>) v = floor(v);
    } else if (op == KILN_OP_NORMAL) {
      v = kiln_random_normal(seed, counter, a, b);
    } else {
      v = kiln_random_bernoulli(seed, counter, a);
    }
    out[contiguous ? i : strided_offset(layout, i)] = convert<T>(v);
  }
}

}  // namespace

void run_random(const Context& ctx, const kiln_tensor_desc& out, const kiln_random_attrs& attrs) {
  const int64_t n = numel(out);
  if (n == 0) return;
  const bool contiguous = is_contiguous(out);
  const Strided layout = make_strided(out);
  dispatch_all(ctx, out.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    random_kernel<T><<<grid_for(n), kThreads, 0, ctx.cu_stream>>>(base_ptr_as<T>(out), layout, contiguous, n,
                                                                   static_cast<int>(ctx.op), attrs.seed, attrs.offset,
                                                                   attrs.a, attrs.b);
    check_launch(ctx, "random_kernel");
  });
}

}  // namespace kiln::cuda
