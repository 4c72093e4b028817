// Dispatch overhead: a 16-element float32 add through the public Tensor API, per backend.
// Run: build/bin/kiln_dispatch_bench (KILN_BACKEND selects the default backend).
#include <benchmark/benchmark.h>
#include <kiln/autograd.hpp>
#include <kiln/ops.hpp>
#include <kiln/random.hpp>

static void add16(benchmark::State& state, const char* backend) {
  kiln::Device dev(backend);
  kiln::Tensor a = kiln::rand({16}, {.device = dev});
  kiln::Tensor b = kiln::rand({16}, {.device = dev});
  for (auto _ : state) {
    kiln::Tensor c = kiln::add(a, b);
    benchmark::DoNotOptimize(c.impl());
  }
}

// The autograd tape's cost: the same add with an input that requires grad (records a node).
static void add16_record(benchmark::State& state, const char* backend) {
  kiln::Device dev(backend);
  kiln::Tensor a = kiln::rand({16}, {.device = dev});
  kiln::Tensor b = kiln::rand({16}, {.device = dev});
  a.set_requires_grad(true);
  for (auto _ : state) {
    kiln::Tensor c = kiln::add(a, b);
    benchmark::DoNotOptimize(c.impl());
  }
}

static void add16_no_grad(benchmark::State& state, const char* backend) {
  kiln::NoGradGuard guard;
  add16(state, backend);
}

int main(int argc, char** argv) {
  for (const auto& b : kiln::backends()) {
    if (b.devices.empty()) continue;
    const char* name = (new std::string(b.name))->c_str();  // lives for the run
    benchmark::RegisterBenchmark(("add16/" + b.name).c_str(), add16, name);
    benchmark::RegisterBenchmark(("add16_no_grad/" + b.name).c_str(), add16_no_grad, name);
    benchmark::RegisterBenchmark(("add16_record/" + b.name).c_str(), add16_record, name);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
