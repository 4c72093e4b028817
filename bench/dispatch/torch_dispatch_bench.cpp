// LibTorch's figure for the same 16-element float32 add (Debian libtorch-dev), one thread.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

static void torch_add16(benchmark::State& state) {
  torch::set_num_threads(1);
  auto a = torch::rand({16});
  auto b = torch::rand({16});
  for (auto _ : state) {
    auto c = torch::add(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
}
BENCHMARK(torch_add16);

static void torch_add16_no_grad(benchmark::State& state) {
  torch::NoGradGuard guard;
  torch_add16(state);
}
BENCHMARK(torch_add16_no_grad);

BENCHMARK_MAIN();
