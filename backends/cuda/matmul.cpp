// MATMUL with cuBLAS: a [B, M, K] x b [B, K, N] -> out [B, M, N], float32 and float64.
//
// Note [Row-major matmul on column-major cuBLAS]: out (row-major M x N) is, to cuBLAS, the
// column-major N x M matrix out^T = b^T a^T, so the call is gemm(m = N, n = M, k = K) with b as
// the first operand and a as the second. An operand whose rows or columns are unit-stride is
// passed as is, with the transpose flag that matches its layout; any other layout (broadcast rows,
// both strides > 1) is packed to a contiguous copy first. A batch of size 1 (or a batch stride of
// 0) broadcasts the operand over the batch.
//
// Note [Library handles per stream]: each stream owns its cuBLAS and cuDNN handles, taken at its
// first matmul or convolution and bound to it once. A handle shared by several streams would need
// a lock around every call and, in cuBLAS, one workspace used by kernels of different streams at
// once; a stream is driven by one thread at a time (the ABI's threading contract), so a
// per-stream handle needs no lock. When the stream is destroyed its handles go back to the
// device's pool for the next stream instead of being destroyed: the cuDNN execution plans cached
// per device (conv.cpp) keep the handle they were built with.
//
// TF32 is off by default (results match the CPU backends to float32 rounding); set
// KILN_CUDA_ALLOW_TF32=1 to let cuBLAS and cuDNN use TF32 tensor cores for float32.
#include "device.hpp"
#include "ops.hpp"

#include <cublas_v2.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace kiln::cuda {

bool allow_tf32() {
  static const bool allowed = [] {
    const char* env = std::getenv("KILN_CUDA_ALLOW_TF32");
    return env != nullptr && std::strcmp(env, "1") == 0;
  }();
  return allowed;
}

namespace {

void check_blas(cublasStatus_t status, const Context& ctx, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  fail(status == CUBLAS_STATUS_ALLOC_FAILED ? KILN_STATUS_OUT_OF_MEMORY : KILN_STATUS_DEVICE_ERROR, "cuda: ",
       ctx.op_name, ": ", what, " failed: ", cublasGetStatusName(status), ": ", cublasGetStatusString(status));
}

// A matrix operand as cuBLAS takes it.
struct Operand {
  const void* data;
  cublasOperation_t op;
  int64_t ld;
  int64_t batch_stride;
};

// The logical row-major matrix R (rows x cols, strides rs and cs) as a column-major operand whose
// op() is R^T (cols x rows). Returns false if R must be packed first.
bool as_transposed_operand(const void* data, int64_t rows, int64_t cols, int64_t rs, int64_t cs, Operand& o) {
  // Unit-stride rows: column-major (cols x rows) with ld = rs is exactly R^T.
  if ((cs == 1 || cols == 1) && (rows == 1 || rs >= std::max<int64_t>(1, cols))) {
    o = Operand{data, CUBLAS_OP_N, rows == 1 ? std::max<int64_t>(1, cols) : rs, 0};
    return true;
  }
  // Unit-stride columns: column-major (rows x cols) with ld = cs is R; transpose it.
  if ((rs == 1 || rows == 1) && (cols == 1 || cs >= std::max<int64_t>(1, rows))) {
    o = Operand{data, CUBLAS_OP_T, cols == 1 ? std::max<int64_t>(1, rows) : cs, 0};
    return true;
  }
  return false;
}

}  // namespace

void run_matmul(const Context& ctx, const kiln_tensor_desc& a, const kiln_tensor_desc& b, const kiln_tensor_desc& out) {
  if (a.ndim != 3 || b.ndim != 3 || out.ndim != 3)
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: matmul expects a [B, M, K], b [B, K, N], out [B, M, N]; got ",
         shape_string(a), ", ", shape_string(b), ", ", shape_string(out));
  const int64_t batch = out.shape[0], m = out.shape[1], n = out.shape[2], k = a.shape[2];
  if (a.shape[1] != m || b.shape[1] != k || b.shape[2] != n || (a.shape[0] != batch && a.shape[0] != 1) ||
      (b.shape[0] != batch && b.shape[0] != 1))
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: matmul: shapes do not agree: a ", shape_string(a), ", b ",
         shape_string(b), ", out ", shape_string(out));
  if (!is_contiguous(out)) fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: matmul: the output must be contiguous");
  if (batch == 0 || m == 0 || n == 0) return;
  const size_t elsize = kiln_dtype_size(out.dtype);
  if (k == 0) return zero_bytes(ctx, base_ptr(out), static_cast<size_t>(batch * m * n) * elsize);
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX || batch > INT_MAX)
    fail(KILN_STATUS_UNSUPPORTED, "cuda: matmul: dimensions beyond 2^31 are not supported: a ", shape_string(a),
         ", b ", shape_string(b));

  // cuBLAS's first operand is b (rows K, cols N), its second is a (rows M, cols K).
  std::unique_ptr<Workspace> packed_a, packed_b;
  auto prepare = [&](const kiln_tensor_desc& t, std::unique_ptr<Workspace>& packed) {
    const int64_t rows = t.shape[1], cols = t.shape[2];
    Operand o{};
    const bool broadcast = t.shape[0] == 1;
    if (as_transposed_operand(base_ptr(t), rows, cols, t.strides[1], t.strides[2], o) &&
        o.ld <= INT_MAX && (broadcast || t.strides[0] >= 0)) {
      o.batch_stride = broadcast ? 0 : t.strides[0];
      return o;
    }
    packed = std::make_unique<Workspace>(ctx, static_cast<size_t>(numel(t)) * elsize);
    copy_to_contiguous(ctx, t, packed->data());
    as_transposed_operand(packed->data(), rows, cols, cols, 1, o);
    o.batch_stride = broadcast ? 0 : rows * cols;
    return o;
  };
  const Operand first = prepare(b, packed_b);
  const Operand second = prepare(a, packed_a);

  // One handle per stream, bound to it once (Note [Library handles per stream]).
  cublasHandle_t& handle = ctx.stream->blas;
  if (handle == nullptr) {
    cublasHandle_t h = ctx.device->take_blas_handle();
    if (h == nullptr) {
      check_blas(cublasCreate(&h), ctx, "cublasCreate");
      // Pointer mode host (alpha, beta below); math mode per call through the compute type.
      const cublasStatus_t status = cublasSetMathMode(h, allow_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
      if (status != CUBLAS_STATUS_SUCCESS) cublasDestroy(h);
      check_blas(status, ctx, "cublasSetMathMode");
    }
    handle = h;  // the stream owns it from here (returned to the pool with the stream)
    check_blas(cublasSetStream(handle, ctx.cu_stream), ctx, "cublasSetStream");
  }
  const bool is_double = out.dtype == KILN_DTYPE_FLOAT64;
  const float alpha_f = 1.0f, beta_f = 0.0f;
  const double alpha_d = 1.0, beta_d = 0.0;
  const cudaDataType_t type = is_double ? CUDA_R_64F : CUDA_R_32F;
  const cublasComputeType_t compute =
      is_double ? CUBLAS_COMPUTE_64F : (allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F);
  check_blas(cublasGemmStridedBatchedEx(
                 handle, first.op, second.op, static_cast<int>(n), static_cast<int>(m), static_cast<int>(k),
                 is_double ? static_cast<const void*>(&alpha_d) : static_cast<const void*>(&alpha_f), first.data, type,
                 static_cast<int>(first.ld), first.batch_stride, second.data, type, static_cast<int>(second.ld),
                 second.batch_stride, is_double ? static_cast<const void*>(&beta_d) : static_cast<const void*>(&beta_f),
                 base_ptr(out), type, static_cast<int>(n), m * n, static_cast<int>(batch), compute, CUBLAS_GEMM_DEFAULT),
             ctx, "cublasGemmStridedBatchedEx");
}

}  // namespace kiln::cuda
