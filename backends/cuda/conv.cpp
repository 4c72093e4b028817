// CONV2D, CONV2D_BACKWARD_INPUT and CONV2D_BACKWARD_WEIGHT with cuDNN (NCHW, groups, no bias).
//
// Note [cuDNN algorithm cache]: what runs a shape (op, dtype, all four dims of each tensor,
// stride, padding, dilation, groups) is chosen once and cached per device. Two of cuDNN's APIs
// offer kernels:
//  - the graph (backend) API: an operation graph of the one convolution, the engine
//    configurations its heuristics (mode A) rank for it, each finalized into an execution plan.
//    These are the engines PyTorch uses; the legacy API reaches only the subset behind its eight
//    algorithm numbers.
//  - the legacy API: cudnnGet*_v7 heuristics or cudnnFind* timing, as a list of algorithms.
// By default the first graph-API plan that finalizes runs (legacy heuristics if none does). With
// KILN_CUDNN_BENCHMARK=1 the candidates are timed on the op's own tensors: up to eight graph-API
// plans (CUDA events, best of three runs each) against the best legacy algorithm (cudnnFind*), and
// the fastest wins. KILN_CUDNN_API=legacy skips the graph API; KILN_CUDNN_VERBOSE=1 prints each
// choice to stderr. A choice that fails at run time with NOT_SUPPORTED is dropped and the next
// used. Workspaces come from the caching allocator.
//
// float32 runs without TF32 unless KILN_CUDA_ALLOW_TF32=1: CUDNN_FMA_MATH on the legacy API, and
// on the graph API engines noted TENSOR_CORE or DOWN_CONVERT_INPUTS are left out (as are engines
// that compile at run time, whose first call takes seconds). Some backward algorithms accumulate
// with atomics, so backward results may vary in the last bits.
#include "device.hpp"
#include "ops.hpp"

#include <cudnn.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace kiln::cuda {
namespace {

struct Candidate {
  int algo;
  cudnnMathType_t math;
  size_t workspace;
  float ms;  // cudnnFind's time; -1 from the heuristics
};

using Key = std::array<int64_t, 22>;

// One cuDNN backend descriptor, destroyed with its owner. Null when creation failed.
class BackendDesc {
 public:
  BackendDesc() = default;
  explicit BackendDesc(cudnnBackendDescriptorType_t type) {
    if (cudnnBackendCreateDescriptor(type, &desc_) != CUDNN_STATUS_SUCCESS) desc_ = nullptr;
  }
  ~BackendDesc() {
    if (desc_ != nullptr) cudnnBackendDestroyDescriptor(desc_);
  }
  BackendDesc(BackendDesc&& other) noexcept : desc_(other.desc_) { other.desc_ = nullptr; }
  BackendDesc& operator=(BackendDesc&& other) noexcept {
    std::swap(desc_, other.desc_);
    return *this;
  }
  BackendDesc(const BackendDesc&) = delete;
  BackendDesc& operator=(const BackendDesc&) = delete;
  cudnnBackendDescriptor_t get() const { return desc_; }
  cudnnBackendDescriptor_t* address() { return &desc_; }

 private:
  cudnnBackendDescriptor_t desc_ = nullptr;
};

// A finalized graph-API execution plan with the descriptors it was built from.
struct GraphPlan {
  std::shared_ptr<std::vector<BackendDesc>> keep;  // tensors, convolution, operation, graph
  BackendDesc config;
  BackendDesc plan;
  int64_t workspace = 0;
  std::string name;  // the engine's global index and notes, for KILN_CUDNN_VERBOSE
  // Finalized variant packs by their four addresses (x, w, y, workspace), most recent last. The
  // caching allocator hands a training step the same addresses every step, so after the first
  // step each layer finds its pack here instead of building one per call.
  struct Pack {
    const void* pointers[4];
    BackendDesc pack;
  };
  std::vector<Pack> packs;
};

// What runs one shape: a graph-API plan when set, else the legacy candidates in order.
struct Choice {
  std::shared_ptr<GraphPlan> graph;
  std::vector<Candidate> legacy;
};

// The algorithm cache is per device and shared by its streams; the handles are per stream
// (Note [Library handles per stream] in matmul.cpp).
struct DnnState {
  std::mutex mutex;
  cudaEvent_t timing[2] = {nullptr, nullptr};
  std::map<Key, Choice> cache;
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
    out.push_back(Candidate{static_cast<int>(perf[i].algo), run_math(perf[i].mathType, is_double), perf[i].memory,
                            perf[i].time});
  }
  return out;
}

// The legacy API's algorithms for one convolution, best first: timed by cudnnFind* in benchmark
// mode, ranked by cudnnGet*_v7 otherwise.
std::vector<Candidate> legacy_candidates(const Context& ctx, cudnnHandle_t h, cudnnTensorDescriptor_t x,
                                         cudnnFilterDescriptor_t w, cudnnTensorDescriptor_t y,
                                         cudnnConvolutionDescriptor_t conv, bool is_double, bool bench) {
  int count = 0;
  if (ctx.op == KILN_OP_CONV2D) {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    check_dnn(bench ? cudnnFindConvolutionForwardAlgorithm(h, x, w, conv, y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, perf)
                    : cudnnGetConvolutionForwardAlgorithm_v7(h, x, w, conv, y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count,
                                                             perf),
              ctx, "choosing a convolution forward algorithm");
    return candidates_from(perf, count, is_double);
  }
  if (ctx.op == KILN_OP_CONV2D_BACKWARD_INPUT) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    check_dnn(bench ? cudnnFindConvolutionBackwardDataAlgorithm(h, w, y, conv, x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                                &count, perf)
                    : cudnnGetConvolutionBackwardDataAlgorithm_v7(h, w, y, conv, x,
                                                                  CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count, perf),
              ctx, "choosing a convolution backward-data algorithm");
    return candidates_from(perf, count, is_double);
  }
  cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
  check_dnn(bench ? cudnnFindConvolutionBackwardFilterAlgorithm(h, x, y, conv, w,
                                                                CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count, perf)
                  : cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, x, y, conv, w,
                                                                  CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count, perf),
            ctx, "choosing a convolution backward-filter algorithm");
  return candidates_from(perf, count, is_double);
}

bool env_is(const char* name, const char* value) {
  const char* env = std::getenv(name);
  return env != nullptr && std::strcmp(env, value) == 0;
}
bool legacy_only() {
  static const bool on = env_is("KILN_CUDNN_API", "legacy");
  return on;
}
bool verbose() {
  static const bool on = env_is("KILN_CUDNN_VERBOSE", "1");
  return on;
}

// ---- the graph (backend) API ----
bool set_attr(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type,
              int64_t count, const void* value) {
  return cudnnBackendSetAttribute(d, name, type, count, value) == CUDNN_STATUS_SUCCESS;
}
bool finalize(cudnnBackendDescriptor_t d) { return cudnnBackendFinalize(d) == CUDNN_STATUS_SUCCESS; }

// The variant pack's names for the three tensors.
constexpr int64_t kUidX = 'x', kUidW = 'w', kUidY = 'y';

// A packed NCHW tensor of the graph, or a null descriptor if cuDNN refuses it.
BackendDesc graph_tensor(int64_t uid, cudnnDataType_t type, const int64_t* shape) {
  BackendDesc t(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  const int64_t strides[4] = {shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1};
  const int64_t alignment = 16;  // run_conv packs anything less aligned
  if (t.get() == nullptr || !set_attr(t.get(), CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type) ||
      !set_attr(t.get(), CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, shape) ||
      !set_attr(t.get(), CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides) ||
      !set_attr(t.get(), CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid) ||
      !set_attr(t.get(), CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment) || !finalize(t.get()))
    return BackendDesc();
  return t;
}

// Plans larger than this are not considered (the legacy API's choice is bounded by cuDNN itself).
constexpr int64_t kMaxGraphWorkspace = int64_t{512} << 20;

// Execution plans for one convolution through the graph API, in the order cuDNN's heuristics
// (mode A) rank them, at most max_plans; empty if the graph API has none for it.
std::vector<std::shared_ptr<GraphPlan>> graph_plans(cudnnHandle_t h, kiln_op op, cudnnDataType_t type,
                                                    const kiln_tensor_desc& x, const kiln_tensor_desc& w,
                                                    const kiln_tensor_desc& y, const kiln_conv2d_attrs& a,
                                                    bool tensor_cores, size_t max_plans) {
  auto keep = std::make_shared<std::vector<BackendDesc>>();
  keep->push_back(graph_tensor(kUidX, type, x.shape));
  keep->push_back(graph_tensor(kUidW, type, w.shape));
  keep->push_back(graph_tensor(kUidY, type, y.shape));
  for (const BackendDesc& t : *keep)
    if (t.get() == nullptr) return {};
  BackendDesc conv(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  const int64_t spatial = 2;
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  if (conv.get() == nullptr || !set_attr(conv.get(), CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type) ||
      !set_attr(conv.get(), CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode) ||
      !set_attr(conv.get(), CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &spatial) ||
      !set_attr(conv.get(), CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, a.padding) ||
      !set_attr(conv.get(), CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, a.padding) ||
      !set_attr(conv.get(), CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, a.dilation) ||
      !set_attr(conv.get(), CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, a.stride) ||
      !finalize(conv.get()))
    return {};

  // The operation: which descriptor and attribute names depends on the direction.
  struct Names {
    cudnnBackendDescriptorType_t type;
    cudnnBackendAttributeName_t x, w, y, conv, alpha, beta;
  };
  static constexpr Names kNames[3] = {
      {CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,
       CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y,
       CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA,
       CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA},
      {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA},
      {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA},
  };
  const Names& names = kNames[op == KILN_OP_CONV2D ? 0 : op == KILN_OP_CONV2D_BACKWARD_INPUT ? 1 : 2];
  BackendDesc operation(names.type);
  const bool is_double = type == CUDNN_DATA_DOUBLE;
  const double one_d = 1.0, zero_d = 0.0;
  const float one_f = 1.0f, zero_f = 0.0f;
  const auto scalar_type = is_double ? CUDNN_TYPE_DOUBLE : CUDNN_TYPE_FLOAT;
  const void* one = is_double ? static_cast<const void*>(&one_d) : &one_f;
  const void* zero = is_double ? static_cast<const void*>(&zero_d) : &zero_f;
  cudnnBackendDescriptor_t tx = (*keep)[0].get(), tw = (*keep)[1].get(), ty = (*keep)[2].get(), tc = conv.get();
  if (operation.get() == nullptr || !set_attr(operation.get(), names.x, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &tx) ||
      !set_attr(operation.get(), names.w, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &tw) ||
      !set_attr(operation.get(), names.y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &ty) ||
      !set_attr(operation.get(), names.conv, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &tc) ||
      !set_attr(operation.get(), names.alpha, scalar_type, 1, one) ||
      !set_attr(operation.get(), names.beta, scalar_type, 1, zero) || !finalize(operation.get()))
    return {};

  // The graph of that one operation, and the heuristics' ranking of engine configurations for it.
  // (The graph's and the plan's handle attributes are deprecated from cuDNN 9.x in favour of a
  // device-properties descriptor, which older 9.x releases lack; they still work.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  const auto graph_handle_attr = CUDNN_ATTR_OPERATIONGRAPH_HANDLE;
  const auto plan_handle_attr = CUDNN_ATTR_EXECUTION_PLAN_HANDLE;
#pragma GCC diagnostic pop
  BackendDesc graph(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  cudnnBackendDescriptor_t op_desc = operation.get();
  if (graph.get() == nullptr || !set_attr(graph.get(), CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op_desc) ||
      !set_attr(graph.get(), graph_handle_attr, CUDNN_TYPE_HANDLE, 1, &h) || !finalize(graph.get()))
    return {};
  BackendDesc heuristics(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
  const cudnnBackendHeurMode_t heur_mode = CUDNN_HEUR_MODE_A;
  cudnnBackendDescriptor_t graph_desc = graph.get();
  if (heuristics.get() == nullptr ||
      !set_attr(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph_desc) ||
      !set_attr(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &heur_mode) ||
      !finalize(heuristics.get()))
    return {};
  int64_t count = 0;
  if (cudnnBackendGetAttribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count,
                               nullptr) != CUDNN_STATUS_SUCCESS ||
      count <= 0)
    return {};
  std::vector<BackendDesc> configs;
  std::vector<cudnnBackendDescriptor_t> raw;
  for (int64_t i = 0; i < count; ++i) {
    configs.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    if (configs.back().get() == nullptr) return {};
    raw.push_back(configs.back().get());
  }
  if (cudnnBackendGetAttribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, count,
                               &count, raw.data()) != CUDNN_STATUS_SUCCESS)
    return {};
  keep->push_back(std::move(conv));
  keep->push_back(std::move(operation));
  keep->push_back(std::move(graph));

  std::vector<std::shared_ptr<GraphPlan>> plans;
  for (int64_t i = 0; i < count && plans.size() < max_plans; ++i) {
    BackendDesc engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
    int64_t n = 0, index = -1;
    if (engine.get() == nullptr || cudnnBackendGetAttribute(configs[i].get(), CUDNN_ATTR_ENGINECFG_ENGINE,
                                                            CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n,
                                                            engine.address()) != CUDNN_STATUS_SUCCESS)
      continue;
    cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n, &index);
    cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
    cudnnBackendBehaviorNote_t behaviors[CUDNN_BEHAVIOR_NOTE_TYPE_COUNT];
    int64_t note_count = 0, behavior_count = 0;
    if (cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                                 CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &note_count, notes) != CUDNN_STATUS_SUCCESS)
      note_count = 0;
    if (cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE,
                                 CUDNN_BEHAVIOR_NOTE_TYPE_COUNT, &behavior_count, behaviors) != CUDNN_STATUS_SUCCESS)
      behavior_count = 0;
    bool usable = true;
    std::string name = "engine " + std::to_string(index);
    for (int64_t k = 0; k < note_count; ++k) {
      switch (notes[k]) {
        case CUDNN_NUMERICAL_NOTE_TENSOR_CORE:
          name += " tensor-core";
          usable = usable && tensor_cores;
          break;
        case CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS:
        case CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION:
          usable = false;
          break;
        case CUDNN_NUMERICAL_NOTE_FFT: name += " fft"; break;
        case CUDNN_NUMERICAL_NOTE_WINOGRAD: name += " winograd"; break;
        case CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC: name += " nondeterministic"; break;
        default: break;
      }
    }
    for (int64_t k = 0; k < behavior_count; ++k)
      if (behaviors[k] == CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION) usable = false;
    if (!usable) continue;
    auto plan = std::make_shared<GraphPlan>();
    plan->plan = BackendDesc(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
    cudnnBackendDescriptor_t config = configs[i].get();
    if (plan->plan.get() == nullptr || !set_attr(plan->plan.get(), plan_handle_attr, CUDNN_TYPE_HANDLE, 1, &h) ||
        !set_attr(plan->plan.get(), CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &config) ||
        !finalize(plan->plan.get()))
      continue;  // this configuration does not support the shape
    if (cudnnBackendGetAttribute(plan->plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &n,
                                 &plan->workspace) != CUDNN_STATUS_SUCCESS ||
        plan->workspace < 0 || plan->workspace > kMaxGraphWorkspace)
      continue;
    plan->keep = keep;
    plan->config = std::move(configs[i]);
    plan->name = std::move(name);
    plans.push_back(std::move(plan));
  }
  return plans;
}

// Runs a plan on x, w, y (whichever of them is the output) with a workspace of plan.workspace bytes.
cudnnStatus_t run_graph(cudnnHandle_t h, GraphPlan& plan, const void* x, const void* w, const void* y,
                        void* workspace) {
  constexpr size_t kMaxPacks = 16;
  const void* key[4] = {x, w, y, workspace};
  for (auto it = plan.packs.begin(); it != plan.packs.end(); ++it)
    if (std::equal(key, key + 4, it->pointers)) return cudnnBackendExecute(h, plan.plan.get(), it->pack.get());
  BackendDesc pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  const int64_t uids[3] = {kUidX, kUidW, kUidY};
  void* pointers[3] = {const_cast<void*>(x), const_cast<void*>(w), const_cast<void*>(y)};
  if (pack.get() == nullptr || !set_attr(pack.get(), CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids) ||
      !set_attr(pack.get(), CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, pointers) ||
      !set_attr(pack.get(), CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace) ||
      !finalize(pack.get()))
    return CUDNN_STATUS_BAD_PARAM;
  const cudnnStatus_t status = cudnnBackendExecute(h, plan.plan.get(), pack.get());
  if (plan.packs.size() == kMaxPacks) plan.packs.erase(plan.packs.begin());
  plan.packs.push_back(GraphPlan::Pack{{x, w, y, workspace}, std::move(pack)});
  return status;
}

// GPU milliseconds of a plan's fastest of three runs on the op's own tensors (after one untimed
// run); negative when it cannot run here.
float time_graph(const Context& ctx, cudnnHandle_t h, DnnState& state, GraphPlan& plan, const void* x,
                 const void* w, const void* y) {
  try {
    Workspace workspace(ctx, static_cast<size_t>(plan.workspace));
    if (run_graph(h, plan, x, w, y, workspace.data()) != CUDNN_STATUS_SUCCESS) return -1;
    float best = -1;
    for (int i = 0; i < 3; ++i) {
      check_cuda(cudaEventRecord(state.timing[0], ctx.cu_stream), ctx, "cudaEventRecord");
      if (run_graph(h, plan, x, w, y, workspace.data()) != CUDNN_STATUS_SUCCESS) return -1;
      check_cuda(cudaEventRecord(state.timing[1], ctx.cu_stream), ctx, "cudaEventRecord");
      check_cuda(cudaEventSynchronize(state.timing[1]), ctx, "timing a cuDNN plan");
      float ms = 0;
      check_cuda(cudaEventElapsedTime(&ms, state.timing[0], state.timing[1]), ctx, "cudaEventElapsedTime");
      if (best < 0 || ms < best) best = ms;
    }
    return best;
  } catch (const Failure& failure) {
    if (failure.status() == KILN_STATUS_OUT_OF_MEMORY) return -1;  // its workspace does not fit now
    throw;
  }
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
  // The legacy API's descriptors, made only when that API is used (a cached graph plan needs none).
  struct LegacyDescs {
    TensorDesc x, y;
    FilterDesc w;
    ConvDesc conv;
  };
  std::unique_ptr<LegacyDescs> legacy_descs;
  auto legacy = [&]() -> LegacyDescs& {
    if (!legacy_descs) {
      legacy_descs.reset(new LegacyDescs{{ctx, type, x.shape}, {ctx, type, y.shape}, {ctx, type, w.shape}, {ctx, type, attrs}});
      check_dnn(cudnnSetConvolutionMathType(legacy_descs->conv.desc, default_math(is_double)), ctx,
                "cudnnSetConvolutionMathType");
    }
    return *legacy_descs;
  };

  DnnState& state = dnn_state(ctx.device->index());
  std::lock_guard<std::mutex> lock(state.mutex);
  if (ctx.stream->dnn == nullptr) {  // Note [Library handles per stream] in matmul.cpp
    cudnnHandle_t created = ctx.device->take_dnn_handle();
    if (created == nullptr) check_dnn(cudnnCreate(&created), ctx, "cudnnCreate");
    ctx.stream->dnn = created;
    check_dnn(cudnnSetStream(created, ctx.cu_stream), ctx, "cudnnSetStream");
  }
  cudnnHandle_t h = ctx.stream->dnn;

  Key key{static_cast<int64_t>(ctx.op), out.dtype, x.shape[0], x.shape[1], x.shape[2], x.shape[3], w.shape[0],
          w.shape[1], w.shape[2], w.shape[3], y.shape[2], y.shape[3], attrs.stride[0], attrs.stride[1],
          attrs.padding[0], attrs.padding[1], attrs.dilation[0], attrs.dilation[1], groups, allow_tf32() ? 1 : 0,
          benchmark_mode() ? 1 : 0, 0};
  // The tensors by role, whichever is the output.
  const void* px = forward ? p0 : backward_input ? p_out : p1;
  const void* pw = ctx.op == KILN_OP_CONV2D_BACKWARD_WEIGHT ? p_out : p1;
  const void* py = forward ? p_out : p0;
  auto found = state.cache.find(key);
  if (found == state.cache.end()) {
    const bool bench = benchmark_mode();
    if (bench && state.timing[0] == nullptr) {
      check_cuda(cudaEventCreate(&state.timing[0]), ctx, "cudaEventCreate");
      check_cuda(cudaEventCreate(&state.timing[1]), ctx, "cudaEventCreate");
    }
    Choice choice;
    LegacyDescs& d = legacy();
    choice.legacy = legacy_candidates(ctx, h, d.x.desc, d.w.desc, d.y.desc, d.conv.desc, is_double, bench);
    std::vector<std::shared_ptr<GraphPlan>> plans;
    if (!legacy_only())
      plans = graph_plans(h, ctx.op, type, x, w, y, attrs, !is_double && allow_tf32(), bench ? 8 : 1);
    float graph_ms = -1;
    int timed = 0;
    if (bench) {
      for (const auto& plan : plans) {
        const float ms = time_graph(ctx, h, state, *plan, px, pw, py);
        if (ms < 0) continue;
        ++timed;
        if (graph_ms < 0 || ms < graph_ms) {
          graph_ms = ms;
          choice.graph = plan;
        }
      }
      // The legacy API's best (cudnnFind's time) stays if it is faster.
      if (choice.graph && !choice.legacy.empty() && choice.legacy.front().ms >= 0 &&
          choice.legacy.front().ms < graph_ms)
        choice.graph.reset();
    } else if (!plans.empty()) {
      choice.graph = plans.front();
    }
    if (verbose()) {
      std::string line = std::string("kiln cuda: ") + ctx.op_name + " x " + shape_string(x) + " w " + shape_string(w) +
                         " y " + shape_string(y) + ": graph API " + std::to_string(plans.size()) + " plan(s)";
      if (bench) line += ", " + std::to_string(timed) + " timed, best " + std::to_string(graph_ms) + " ms";
      if (!choice.legacy.empty())
        line += "; legacy algo " + std::to_string(choice.legacy.front().algo) + " " +
                std::to_string(choice.legacy.front().ms) + " ms";
      line += " -> " + (choice.graph ? choice.graph->name : std::string("legacy")) + "\n";
      std::fputs(line.c_str(), stderr);
    }
    found = state.cache.emplace(key, std::move(choice)).first;
  }

  Choice& choice = found->second;
  if (choice.graph) {
    GraphPlan& plan = *choice.graph;
    Workspace workspace(ctx, static_cast<size_t>(plan.workspace));
    const cudnnStatus_t status = run_graph(h, plan, px, pw, py, workspace.data());
    if (status == CUDNN_STATUS_SUCCESS) return;
    if (CUDNN_STATUS_CATEGORY(status) != CUDNN_STATUS_NOT_SUPPORTED) check_dnn(status, ctx, "running the convolution plan");
    choice.graph.reset();  // this plan cannot run here: the legacy candidates take over
  }
  std::vector<Candidate>& candidates = choice.legacy;
  LegacyDescs& d = legacy();
  auto& x_desc = d.x;
  auto& y_desc = d.y;
  auto& w_desc = d.w;
  auto& conv = d.conv;
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
