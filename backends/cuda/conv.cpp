// CONV2D, CONV2D_BACKWARD_INPUT and CONV2D_BACKWARD_WEIGHT with cuDNN (NCHW, groups, no bias).
//
// Note [cuDNN algorithm cache]: the algorithm for a shape (op, dtype, all four dims of each
// tensor, stride, padding, dilation, groups) is chosen once and cached per device: by cuDNN's
// heuristics (cudnnGet*_v7, cheap and deterministic in choice), or with KILN_CUDNN_BENCHMARK=1 by
// timing the candidates (cudnnFind*, which allocates its own scratch once per shape). The cache
// keeps every usable candidate in order, so an algorithm that fails at run time (NOT_SUPPORTED)
// is dropped and the next one used. Workspaces come from the caching allocator.
//
// float32 runs with CUDNN_FMA_MATH (no TF32) unless KILN_CUDA_ALLOW_TF32=1. Some backward
// algorithms cuDNN picks accumulate with atomics, so backward results may vary in the last bits.
#include "device.hpp"
#include "ops.hpp"

#include <cudnn.h>

#include <array>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace kiln::cuda {
namespace {

struct Candidate {
  int algo;
  cudnnMathType_t math;
  size_t workspace;
};

using Key = std::array<int64_t, 22>;

struct DnnState {
  std::mutex mutex;
  cudnnHandle_t handle = nullptr;
  std::map<Key, std::vector<Candidate>> cache;
};

DnnState& dnn_state(int device) {
  static std::mutex registry_mutex;
  static auto* states = new std::unordered_map<int, std::unique_ptr<DnnState>>;
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto& slot = (*states)[device];
  if (!slot) slot = std::make_unique<DnnState>();
  return *slot;
}

void check_dnn(cudnnStatus_t status, const Context& ctx, const char* what) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  fail(status == CUDNN_STATUS_ALLOC_FAILED ? KILN_STATUS_OUT_OF_MEMORY : KILN_STATUS_DEVICE_ERROR, "cuda: ",
       ctx.op_name, ": ", what, " failed: ", cudnnGetErrorString(status));
}

bool benchmark_mode() {
  static const bool on = [] {
    const char* env = std::getenv("KILN_CUDNN_BENCHMARK");
    return env != nullptr && std::strcmp(env, "1") == 0;
  }();
  return on;
}

// RAII for the three descriptor kinds.
struct TensorDesc {
  cudnnTensorDescriptor_t desc = nullptr;
  TensorDesc(const Context& ctx, cudnnDataType_t type, const int64_t* shape) {
    check_dnn(cudnnCreateTensorDescriptor(&desc), ctx, "cudnnCreateTensorDescriptor");
    check_dnn(cudnnSetTensor4dDescriptor(desc, CUDNN_TENSOR_NCHW, type, static_cast<int>(shape[0]),
                                         static_cast<int>(shape[1]), static_cast<int>(shape[2]),
                                         static_cast<int>(shape[3])),
              ctx, "cudnnSetTensor4dDescriptor");
  }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(desc); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
};
struct FilterDesc {
  cudnnFilterDescriptor_t desc = nullptr;
  FilterDesc(const Context& ctx, cudnnDataType_t type, const int64_t* shape) {
    check_dnn(cudnnCreateFilterDescriptor(&desc), ctx, "cudnnCreateFilterDescriptor");
    check_dnn(cudnnSetFilter4dDescriptor(desc, type, CUDNN_TENSOR_NCHW, static_cast<int>(shape[0]),
                                         static_cast<int>(shape[1]), static_cast<int>(shape[2]),
                                         static_cast<int>(shape[3])),
              ctx, "cudnnSetFilter4dDescriptor");
  }
  ~FilterDesc() { cudnnDestroyFilterDescriptor(desc); }
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
};
struct ConvDesc {
  cudnnConvolutionDescriptor_t desc = nullptr;
  ConvDesc(const Context& ctx, cudnnDataType_t type, const kiln_conv2d_attrs& a) {
    check_dnn(cudnnCreateConvolutionDescriptor(&desc), ctx, "cudnnCreateConvolutionDescriptor");
    check_dnn(cudnnSetConvolution2dDescriptor(desc, static_cast<int>(a.padding[0]), static_cast<int>(a.padding[1]),
                                              static_cast<int>(a.stride[0]), static_cast<int>(a.stride[1]),
                                              static_cast<int>(a.dilation[0]), static_cast<int>(a.dilation[1]),
                                              CUDNN_CROSS_CORRELATION, type),
              ctx, "cudnnSetConvolution2dDescriptor");
    check_dnn(cudnnSetConvolutionGroupCount(desc, static_cast<int>(a.groups)), ctx, "cudnnSetConvolutionGroupCount");
  }
  ~ConvDesc() { cudnnDestroyConvolutionDescriptor(desc); }
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
};

cudnnMathType_t default_math(bool is_double) {
  return (!is_double && !allow_tf32()) ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
}
// The math type to run a candidate with: its own, except that float32 without TF32 stays FMA-only.
cudnnMathType_t run_math(cudnnMathType_t candidate, bool is_double) {
  return (!is_double && !allow_tf32()) ? CUDNN_FMA_MATH : candidate;
}

// Turns cuDNN's perf results into usable candidates, best first.
template <typename Perf>
std::vector<Candidate> candidates_from(const Perf* perf, int count, bool is_double) {
  std::vector<Candidate> out;
  for (int i = 0; i < count; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
    out.push_back(Candidate{static_cast<int>(perf[i].algo), run_math(perf[i].mathType, is_double), perf[i].memory});
  }
  return out;
}

}  // namespace

void run_conv(const Context& ctx, const kiln_tensor_desc& in0, const kiln_tensor_desc& in1,
              const kiln_tensor_desc& out, const kiln_conv2d_attrs& attrs) {
  // Name the three tensors x, w, y whatever the direction.
  const bool forward = ctx.op == KILN_OP_CONV2D, backward_input = ctx.op == KILN_OP_CONV2D_BACKWARD_INPUT;
  const kiln_tensor_desc& x = forward ? in0 : backward_input ? out : in1;
  const kiln_tensor_desc& w = ctx.op == KILN_OP_CONV2D_BACKWARD_WEIGHT ? out : in1;
  const kiln_tensor_desc& y = forward ? out : in0;
  if (x.ndim != 4 || w.ndim != 4 || y.ndim != 4)
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", ctx.op_name, " expects 4-D NCHW tensors, got ", shape_string(in0),
         ", ", shape_string(in1), " -> ", shape_string(out));
  const int64_t groups = attrs.groups;
  const int64_t n = x.shape[0], c = x.shape[1], o = w.shape[0];
  auto expected_extent = [&](int d) {
    const int64_t k = w.shape[2 + d];
    return (x.shape[2 + d] + 2 * attrs.padding[d] - attrs.dilation[d] * (k - 1) - 1) / attrs.stride[d] + 1;
  };
  if (groups < 1 || c % groups != 0 || o % groups != 0 || w.shape[1] * groups != c || y.shape[0] != n ||
      y.shape[1] != o || y.shape[2] != expected_extent(0) || y.shape[3] != expected_extent(1))
    fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", ctx.op_name, ": inconsistent shapes: x ", shape_string(x), ", w ",
         shape_string(w), ", y ", shape_string(y), ", groups ", groups);
  for (const kiln_tensor_desc* t : {&x, &w, &y})
    for (int d = 0; d < 4; ++d)
      if (t->shape[d] > INT_MAX) fail(KILN_STATUS_UNSUPPORTED, "cuda: ", ctx.op_name, ": extent beyond 2^31");
  if (!is_contiguous(out)) fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", ctx.op_name, ": the output must be contiguous");
  const size_t elsize = kiln_dtype_size(out.dtype);
  if (numel(out) == 0) return;
  if (numel(in0) == 0 || numel(in1) == 0)  // an empty sum
    return zero_bytes(ctx, base_ptr(out), static_cast<size_t>(numel(out)) * elsize);

  // cuDNN takes packed NCHW (and filters must be): pack strided or misaligned inputs.
  std::unique_ptr<Workspace> packed0, packed1;
  auto pointer_for = [&](const kiln_tensor_desc& t, std::unique_ptr<Workspace>& packed) -> const void* {
    const void* p = base_ptr(t);
    if (is_contiguous(t) && reinterpret_cast<uintptr_t>(p) % 16 == 0) return p;
    packed = std::make_unique<Workspace>(ctx, static_cast<size_t>(numel(t)) * elsize);
    copy_to_contiguous(ctx, t, packed->data());
    return packed->data();
  };
  const void* p0 = pointer_for(in0, packed0);
  const void* p1 = pointer_for(in1, packed1);
  void* p_out = base_ptr(out);

  const bool is_double = out.dtype == KILN_DTYPE_FLOAT64;
  const cudnnDataType_t type = is_double ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  TensorDesc x_desc(ctx, type, x.shape), y_desc(ctx, type, y.shape);
  FilterDesc w_desc(ctx, type, w.shape);
  ConvDesc conv(ctx, type, attrs);
  check_dnn(cudnnSetConvolutionMathType(conv.desc, default_math(is_double)), ctx, "cudnnSetConvolutionMathType");

  DnnState& state = dnn_state(ctx.device->index());
  std::lock_guard<std::mutex> lock(state.mutex);
  if (state.handle == nullptr) check_dnn(cudnnCreate(&state.handle), ctx, "cudnnCreate");
  check_dnn(cudnnSetStream(state.handle, ctx.cu_stream), ctx, "cudnnSetStream");
  cudnnHandle_t h = state.handle;

  Key key{static_cast<int64_t>(ctx.op), out.dtype, x.shape[0], x.shape[1], x.shape[2], x.shape[3], w.shape[0],
          w.shape[1], w.shape[2], w.shape[3], y.shape[2], y.shape[3], attrs.stride[0], attrs.stride[1],
          attrs.padding[0], attrs.padding[1], attrs.dilation[0], attrs.dilation[1], groups, allow_tf32() ? 1 : 0,
          benchmark_mode() ? 1 : 0, 0};
  auto found = state.cache.find(key);
  if (found == state.cache.end()) {
    std::vector<Candidate> candidates;
    int count = 0;
    const bool bench = benchmark_mode();
    if (ctx.op == KILN_OP_CONV2D) {
      cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
      check_dnn(bench ? cudnnFindConvolutionForwardAlgorithm(h, x_desc.desc, w_desc.desc, conv.desc, y_desc.desc,
                                                             CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, perf)
                      : cudnnGetConvolutionForwardAlgorithm_v7(h, x_desc.desc, w_desc.desc, conv.desc, y_desc.desc,
                                                               CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, perf),
                ctx, "choosing a convolution forward algorithm");
      candidates = candidates_from(perf, count, is_double);
    } else if (ctx.op == KILN_OP_CONV2D_BACKWARD_INPUT) {
      cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      check_dnn(bench ? cudnnFindConvolutionBackwardDataAlgorithm(h, w_desc.desc, y_desc.desc, conv.desc, x_desc.desc,
                                                                  CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count, perf)
                      : cudnnGetConvolutionBackwardDataAlgorithm_v7(h, w_desc.desc, y_desc.desc, conv.desc, x_desc.desc,
                                                                    CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count, perf),
                ctx, "choosing a convolution backward-data algorithm");
      candidates = candidates_from(perf, count, is_double);
    } else {
      cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      check_dnn(bench ? cudnnFindConvolutionBackwardFilterAlgorithm(h, x_desc.desc, y_desc.desc, conv.desc,
                                                                    w_desc.desc, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                                    &count, perf)
                      : cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, x_desc.desc, y_desc.desc, conv.desc,
                                                                      w_desc.desc,
                                                                      CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count,
                                                                      perf),
                ctx, "choosing a convolution backward-filter algorithm");
      candidates = candidates_from(perf, count, is_double);
    }
    found = state.cache.emplace(key, std::move(candidates)).first;
  }

  std::vector<Candidate>& candidates = found->second;
  const double one_d = 1.0, zero_d = 0.0;
  const float one_f = 1.0f, zero_f = 0.0f;
  const void* alpha = is_double ? static_cast<const void*>(&one_d) : static_cast<const void*>(&one_f);
  const void* beta = is_double ? static_cast<const void*>(&zero_d) : static_cast<const void*>(&zero_f);
  cudnnStatus_t last_status = CUDNN_STATUS_NOT_SUPPORTED;
  while (!candidates.empty()) {
    const Candidate cand = candidates.front();
    check_dnn(cudnnSetConvolutionMathType(conv.desc, cand.math), ctx, "cudnnSetConvolutionMathType");
    // The workspace size reported by the heuristics is re-queried for this exact configuration.
    size_t bytes = 0;
    cudnnStatus_t status;
    if (ctx.op == KILN_OP_CONV2D) {
      status = cudnnGetConvolutionForwardWorkspaceSize(h, x_desc.desc, w_desc.desc, conv.desc, y_desc.desc,
                                                       static_cast<cudnnConvolutionFwdAlgo_t>(cand.algo), &bytes);
    } else if (ctx.op == KILN_OP_CONV2D_BACKWARD_INPUT) {
      status = cudnnGetConvolutionBackwardDataWorkspaceSize(h, w_desc.desc, y_desc.desc, conv.desc, x_desc.desc,
                                                            static_cast<cudnnConvolutionBwdDataAlgo_t>(cand.algo),
                                                            &bytes);
    } else {
      status = cudnnGetConvolutionBackwardFilterWorkspaceSize(h, x_desc.desc, y_desc.desc, conv.desc, w_desc.desc,
                                                              static_cast<cudnnConvolutionBwdFilterAlgo_t>(cand.algo),
                                                              &bytes);
    }
    if (status == CUDNN_STATUS_SUCCESS) {
      Workspace workspace(ctx, bytes);
      if (ctx.op == KILN_OP_CONV2D) {
        status = cudnnConvolutionForward(h, alpha, x_desc.desc, p0, w_desc.desc, p1, conv.desc,
                                         static_cast<cudnnConvolutionFwdAlgo_t>(cand.algo), workspace.data(), bytes,
                                         beta, y_desc.desc, p_out);
      } else if (ctx.op == KILN_OP_CONV2D_BACKWARD_INPUT) {
        status = cudnnConvolutionBackwardData(h, alpha, w_desc.desc, p1, y_desc.desc, p0, conv.desc,
                                              static_cast<cudnnConvolutionBwdDataAlgo_t>(cand.algo), workspace.data(),
                                              bytes, beta, x_desc.desc, p_out);
      } else {
        status = cudnnConvolutionBackwardFilter(h, alpha, x_desc.desc, p1, y_desc.desc, p0, conv.desc,
                                                static_cast<cudnnConvolutionBwdFilterAlgo_t>(cand.algo),
                                                workspace.data(), bytes, beta, w_desc.desc, p_out);
      }
    }
    if (status == CUDNN_STATUS_SUCCESS) return;
    if (CUDNN_STATUS_CATEGORY(status) != CUDNN_STATUS_NOT_SUPPORTED) check_dnn(status, ctx, "running the convolution");
    last_status = status;
    candidates.erase(candidates.begin());  // this algorithm cannot run here: try the next
  }
  fail(KILN_STATUS_UNSUPPORTED, "cuda: ", ctx.op_name, ": cuDNN has no usable algorithm for x ", shape_string(x),
       ", w ", shape_string(w), ", y ", shape_string(y), ", dtype ", dtype_name(out.dtype), " (last: ", cudnnGetErrorString(last_status), ")");
}

}  // namespace kiln::cuda
