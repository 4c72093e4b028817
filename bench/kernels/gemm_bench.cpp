// Kernel benchmarks of the CPU backend plugins, measured through the C ABI exactly as the host
// calls them (dlopen + kiln_backend_init + launch), next to direct OpenBLAS calls.
//
//   KILN_NUM_THREADS=1 ./kiln_kernel_bench     # single thread (tbb, blas and direct cblas)
//   KILN_NUM_THREADS=2 ./kiln_kernel_bench     # the machine's 2 cores
//
// GEMM 64..2048 (tbb vs blas vs cblas), LeNet's convolutions forward and backward and its max
// pools (batches of 64 and 1000), the dispatch
// overhead of a 16-element add, softmax and a sum reduction.
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <dlfcn.h>
#include <kiln/plugin/kiln_backend.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Plugin {
  const kiln_backend_api* api = nullptr;
  kiln_stream_t stream = nullptr;
};

const kiln_host_api kHost{sizeof(kiln_host_api), KILN_ABI_VERSION, "0.1.0",
                          [](kiln_log_level, const char* m) { std::fprintf(stderr, "plugin: %s\n", m); }};

Plugin load(const char* path) {
  Plugin p;
  void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) throw std::runtime_error(std::string("dlopen failed: ") + dlerror());
  auto init = reinterpret_cast<kiln_backend_init_fn>(dlsym(h, KILN_BACKEND_INIT_SYMBOL));
  if (init == nullptr || init(&kHost, KILN_ABI_VERSION, &p.api) != KILN_STATUS_OK)
    throw std::runtime_error(std::string("kiln_backend_init failed for ") + path);
  kiln_device_t dev = nullptr;
  p.api->device_get(p.api->backend, 0, &dev);
  p.api->stream_create(dev, &p.stream);
  return p;
}

const Plugin& tbb() {
  static const Plugin p = load(KILN_BENCH_TBB_PLUGIN);
  return p;
}
const Plugin& blas() {
  static const Plugin p = load(KILN_BENCH_BLAS_PLUGIN);
  return p;
}

// A dense host tensor owning its storage.
struct Tensor {
  std::vector<double> storage;  // 8-byte cells: big enough for any dtype
  kiln_tensor_desc d{};
  Tensor(int32_t dtype, std::vector<int64_t> shape, bool random = true) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    storage.resize(static_cast<size_t>(n) + 8);
    d.struct_size = sizeof(kiln_tensor_desc);
    d.data = storage.data();
    d.dtype = dtype;
    d.ndim = static_cast<int32_t>(shape.size());
    int64_t stride = 1;
    for (int i = d.ndim - 1; i >= 0; --i) {
      d.shape[i] = shape[static_cast<size_t>(i)];
      d.strides[i] = stride;
      stride *= d.shape[i];
    }
    if (!random) return;
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    if (dtype == KILN_DTYPE_FLOAT32) {
      auto* f = reinterpret_cast<float*>(storage.data());
      for (int64_t i = 0; i < n; ++i) f[i] = u(rng);
    } else {
      for (int64_t i = 0; i < n; ++i) storage[static_cast<size_t>(i)] = u(rng);
    }
  }
};

void launch(benchmark::State& state, const Plugin& p, kiln_op op, const std::vector<const Tensor*>& in,
            const std::vector<const Tensor*>& out, const void* attrs) {
  std::vector<kiln_tensor_desc> i, o;
  for (auto* t : in) i.push_back(t->d);
  for (auto* t : out) o.push_back(t->d);
  kiln_launch_desc l{};
  l.struct_size = sizeof(l);
  l.op = op;
  l.num_inputs = static_cast<int32_t>(i.size());
  l.num_outputs = static_cast<int32_t>(o.size());
  l.tensor_desc_size = sizeof(kiln_tensor_desc);
  l.inputs = i.data();
  l.outputs = o.data();
  l.attrs = attrs;
  if (p.api->launch_v2(p.stream, &l) != KILN_STATUS_OK)
    state.SkipWithError(p.api->last_error(p.api->backend));
}

// ---- GEMM: n x n x n, float32 ----
void gemm_via(benchmark::State& state, const Plugin& p) {
  const int64_t n = state.range(0);
  Tensor a(KILN_DTYPE_FLOAT32, {1, n, n}), b(KILN_DTYPE_FLOAT32, {1, n, n}), c(KILN_DTYPE_FLOAT32, {1, n, n}, false);
  for (auto _ : state) launch(state, p, KILN_OP_MATMUL, {&a, &b}, {&c}, nullptr);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * n * n, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
void BM_gemm_tbb(benchmark::State& s) { gemm_via(s, tbb()); }
void BM_gemm_blas(benchmark::State& s) { gemm_via(s, blas()); }
void BM_gemm_cblas(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  (void)blas();  // same OpenBLAS thread setting as the plugin
  std::vector<float> a(static_cast<size_t>(n) * n, 0.5f), b(a), c(a);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * n * n, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
void BM_dgemm_tbb(benchmark::State& state) {
  const int64_t n = state.range(0);
  Tensor a(KILN_DTYPE_FLOAT64, {1, n, n}), b(KILN_DTYPE_FLOAT64, {1, n, n}), c(KILN_DTYPE_FLOAT64, {1, n, n}, false);
  for (auto _ : state) launch(state, tbb(), KILN_OP_MATMUL, {&a, &b}, {&c}, nullptr);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * n * n, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
void BM_dgemm_cblas(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  (void)blas();
  std::vector<double> a(static_cast<size_t>(n) * n, 0.5), b(a), c(a);
  for (auto _ : state) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a.data(), n, b.data(), n, 0.0, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * n * n, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
#define KILN_GEMM_SIZES ->RangeMultiplier(2)->Range(64, 2048)->Unit(benchmark::kMicrosecond)->UseRealTime()
BENCHMARK(BM_gemm_tbb) KILN_GEMM_SIZES;
BENCHMARK(BM_gemm_blas) KILN_GEMM_SIZES;
BENCHMARK(BM_gemm_cblas) KILN_GEMM_SIZES;
BENCHMARK(BM_dgemm_tbb)->Arg(512)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_dgemm_cblas)->Arg(512)->Unit(benchmark::kMicrosecond)->UseRealTime();

// ---- LeNet convolutions, batch 64 (training) and 1000 (inference): conv1 1->6 5x5 pad 2 on 28x28, conv2 6->16 5x5 on 14x14 ----
struct ConvLayer {
  int64_t c, h, o, pad, oh;
};
constexpr ConvLayer kLenet[] = {{1, 28, 6, 2, 28}, {6, 14, 16, 0, 10}};

void conv_via(benchmark::State& state, const Plugin& p, kiln_op op) {
  const ConvLayer& L = kLenet[state.range(0)];
  const int64_t n = state.range(1);
  Tensor x(KILN_DTYPE_FLOAT32, {n, L.c, L.h, L.h}), w(KILN_DTYPE_FLOAT32, {L.o, L.c, 5, 5});
  Tensor y(KILN_DTYPE_FLOAT32, {n, L.o, L.oh, L.oh});
  const kiln_conv2d_attrs attrs{KILN_ATTRS_HEAD(kiln_conv2d_attrs), {1, 1}, {L.pad, L.pad}, {1, 1}, 1};
  for (auto _ : state) {
    if (op == KILN_OP_CONV2D) launch(state, p, op, {&x, &w}, {&y}, &attrs);
    else if (op == KILN_OP_CONV2D_BACKWARD_INPUT) launch(state, p, op, {&y, &w}, {&x}, &attrs);
    else launch(state, p, op, {&y, &x}, {&w}, &attrs);
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * L.o * L.oh * L.oh * L.c * 25,
                                                 benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
void BM_conv_fwd_tbb(benchmark::State& s) { conv_via(s, tbb(), KILN_OP_CONV2D); }
void BM_conv_fwd_blas(benchmark::State& s) { conv_via(s, blas(), KILN_OP_CONV2D); }
void BM_conv_bwd_input_tbb(benchmark::State& s) { conv_via(s, tbb(), KILN_OP_CONV2D_BACKWARD_INPUT); }
void BM_conv_bwd_input_blas(benchmark::State& s) { conv_via(s, blas(), KILN_OP_CONV2D_BACKWARD_INPUT); }
void BM_conv_bwd_weight_tbb(benchmark::State& s) { conv_via(s, tbb(), KILN_OP_CONV2D_BACKWARD_WEIGHT); }
void BM_conv_bwd_weight_blas(benchmark::State& s) { conv_via(s, blas(), KILN_OP_CONV2D_BACKWARD_WEIGHT); }
#define KILN_LENET \
  ->ArgNames({"lenet_conv", "batch"})->ArgsProduct({{0, 1}, {64, 1000}})->Unit(benchmark::kMicrosecond)->UseRealTime()
BENCHMARK(BM_conv_fwd_tbb) KILN_LENET;
BENCHMARK(BM_conv_fwd_blas) KILN_LENET;
BENCHMARK(BM_conv_bwd_input_tbb) KILN_LENET;
BENCHMARK(BM_conv_bwd_input_blas) KILN_LENET;
BENCHMARK(BM_conv_bwd_weight_tbb) KILN_LENET;
BENCHMARK(BM_conv_bwd_weight_blas) KILN_LENET;

// ---- LeNet's max pools (2x2 stride 2 after conv1 and conv2), batch 1000 ----
void maxpool_via(benchmark::State& state, kiln_op op) {
  const ConvLayer& L = kLenet[state.range(0)];
  const int64_t n = state.range(1), ph = L.oh / 2;
  Tensor x(KILN_DTYPE_FLOAT32, {n, L.o, L.oh, L.oh}), y(KILN_DTYPE_FLOAT32, {n, L.o, ph, ph}, false);
  Tensor idx(KILN_DTYPE_INT64, {n, L.o, ph, ph}, false);
  const kiln_pool2d_attrs attrs{KILN_ATTRS_HEAD(kiln_pool2d_attrs), {2, 2}, {2, 2}, {0, 0}, {1, 1}, 0, 1};
  launch(state, tbb(), KILN_OP_MAXPOOL2D, {&x}, {&y, &idx}, &attrs);  // valid indices for the backward
  for (auto _ : state) {
    if (op == KILN_OP_MAXPOOL2D) launch(state, tbb(), op, {&x}, {&y, &idx}, &attrs);
    else launch(state, tbb(), op, {&y, &idx}, {&x}, &attrs);
  }
  state.counters["elem/s"] = benchmark::Counter(static_cast<double>(n * L.o * L.oh * L.oh),
                                                 benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
void BM_maxpool_tbb(benchmark::State& s) { maxpool_via(s, KILN_OP_MAXPOOL2D); }
void BM_maxpool_bwd_tbb(benchmark::State& s) { maxpool_via(s, KILN_OP_MAXPOOL2D_BACKWARD); }
BENCHMARK(BM_maxpool_tbb) KILN_LENET;
BENCHMARK(BM_maxpool_bwd_tbb) KILN_LENET;

// ---- dispatch overhead: a 16-element float add through launch_v2() ----
void BM_add16_tbb(benchmark::State& state) {
  Tensor a(KILN_DTYPE_FLOAT32, {16}), b(KILN_DTYPE_FLOAT32, {16}), c(KILN_DTYPE_FLOAT32, {16}, false);
  for (auto _ : state) launch(state, tbb(), KILN_OP_ADD, {&a, &b}, {&c}, nullptr);
}
BENCHMARK(BM_add16_tbb)->Unit(benchmark::kNanosecond);
// launch_v2() alone, without the benchmark's descriptor vectors
void BM_add16_tbb_raw(benchmark::State& state) {
  Tensor a(KILN_DTYPE_FLOAT32, {16}), b(KILN_DTYPE_FLOAT32, {16}), c(KILN_DTYPE_FLOAT32, {16}, false);
  const kiln_tensor_desc in[2] = {a.d, b.d};
  const Plugin& p = tbb();
  kiln_launch_desc l{};
  l.struct_size = sizeof(l);
  l.op = KILN_OP_ADD;
  l.num_inputs = 2;
  l.num_outputs = 1;
  l.tensor_desc_size = sizeof(kiln_tensor_desc);
  l.inputs = in;
  l.outputs = &c.d;
  for (auto _ : state) p.api->launch_v2(p.stream, &l);
}
BENCHMARK(BM_add16_tbb_raw)->Unit(benchmark::kNanosecond);
void BM_add_1M_tbb(benchmark::State& state) {
  Tensor a(KILN_DTYPE_FLOAT32, {1 << 20}), b(KILN_DTYPE_FLOAT32, {1 << 20}), c(KILN_DTYPE_FLOAT32, {1 << 20}, false);
  for (auto _ : state) launch(state, tbb(), KILN_OP_ADD, {&a, &b}, {&c}, nullptr);
  state.SetBytesProcessed(state.iterations() * 12 * (1 << 20));
}
BENCHMARK(BM_add_1M_tbb)->Unit(benchmark::kMicrosecond)->UseRealTime();

// ---- softmax over the last axis: LeNet logits [64, 10] and a wide [256, 1000] ----
void BM_softmax_tbb(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  Tensor x(KILN_DTYPE_FLOAT32, {rows, cols}), y(KILN_DTYPE_FLOAT32, {rows, cols}, false);
  const kiln_axis_attrs attrs{KILN_ATTRS_HEAD(kiln_axis_attrs), 1};
  for (auto _ : state) launch(state, tbb(), KILN_OP_SOFTMAX, {&x}, {&y}, &attrs);
  state.SetItemsProcessed(state.iterations() * rows * cols);
}
BENCHMARK(BM_softmax_tbb)->Args({64, 10})->Args({256, 1000})->Unit(benchmark::kMicrosecond)->UseRealTime();

// ---- sum: all of 4M elements, and [1024, 1024] over each axis ----
void BM_sum_tbb(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const int axis = static_cast<int>(state.range(2));
  Tensor x(KILN_DTYPE_FLOAT32, {rows, cols});
  kiln_reduce_attrs attrs = kiln_reduce_attrs_init();
  if (axis < 0) {
    attrs.num_axes = 2, attrs.axes[0] = 0, attrs.axes[1] = 1;
  } else {
    attrs.num_axes = 1, attrs.axes[0] = axis;
  }
  const int64_t out_rows = axis == 1 ? rows : 1, out_cols = axis == 0 ? cols : 1;
  Tensor y(KILN_DTYPE_FLOAT32, {out_rows, out_cols}, false);
  for (auto _ : state) launch(state, tbb(), KILN_OP_SUM, {&x}, {&y}, &attrs);
  state.SetBytesProcessed(state.iterations() * rows * cols * 4);
}
BENCHMARK(BM_sum_tbb)
    ->Args({2048, 2048, -1})
    ->Args({1024, 1024, 1})
    ->Args({1024, 1024, 0})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
