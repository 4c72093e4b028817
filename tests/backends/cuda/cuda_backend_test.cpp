// The CUDA backend through core: memory errors, device mixing, error messages, random fills equal
// to the CPU's, and a LeNet-5 training step that matches the reference backend. Every test is
// skipped, naming why, where no CUDA device exists (the conformance suite and the gradient checks
// run on CUDA through tests/core: core/ConformanceTest.MatchesReference/cuda, *_cuda).
#include "../../support/backend_status.hpp"

#include <gtest/gtest.h>
#include <kiln/autograd.hpp>
#include <kiln/device.hpp>
#include <kiln/error.hpp>
#include <kiln/nn/functional.hpp>
#include <kiln/nn/layers.hpp>
#include <kiln/ops.hpp>
#include <kiln/optim.hpp>
#include <kiln/random.hpp>
#include <kiln/tensor.hpp>

#include <dlfcn.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

using kiln::Device;
using kiln::Tensor;

// The reason CUDA cannot be used here, or "" when it can.
std::string why_no_cuda() { return kiln_test::why_backend_unusable("cuda"); }

class CudaBackend : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = why_no_cuda(); !why.empty()) GTEST_SKIP() << why;
    gpu = Device("cuda:0");  // only now: naming a device that does not exist throws
    cpu = Device("ref");
  }
  Device gpu, cpu;
};

template <class T>
std::vector<T> values(const Tensor& t) {
  return t.to(Device("ref")).contiguous().to_vector<T>();
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  auto x = values<float>(a), y = values<float>(b);
  EXPECT_EQ(x.size(), y.size());
  double worst = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) worst = std::fmax(worst, std::fabs(double(x[i]) - y[i]));
  return worst;
}

TEST_F(CudaBackend, OutOfMemoryIsADeviceErrorWithSizesAndLeaksNothing) {
  const auto before = kiln::backends();
  try {
    Tensor huge = kiln::empty({int64_t{1} << 40}, {.device = gpu});  // 4 TiB of float32
    FAIL() << "a 4 TiB allocation succeeded";
  } catch (const kiln::DeviceError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("4398046511104"), std::string::npos) << msg;  // the bytes asked for
    EXPECT_NE(msg.find("free"), std::string::npos) << msg;
  }
  // The failed request left nothing behind: a large allocation still succeeds, and is usable.
  Tensor big = kiln::full({int64_t{1} << 28}, 2.0, {.device = gpu});  // 1 GiB
  EXPECT_EQ(kiln::sum(big).item<float>(), 2.0f * float(int64_t{1} << 28));
}

TEST_F(CudaBackend, MixingDevicesNamesBoth) {
  Tensor a = kiln::ones({3}, {.device = gpu}), b = kiln::ones({3}, {.device = cpu});
  try {
    kiln::add(a, b);
    FAIL() << "adding a cuda and a ref tensor succeeded";
  } catch (const kiln::DeviceError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("cuda:0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("ref:0"), std::string::npos) << msg;
  }
}

TEST_F(CudaBackend, KernelErrorNamesTheOp) {
  Tensor x = kiln::ones({2, 3}, {.device = gpu});
  Tensor index = kiln::from_vector<int64_t>({0, 5}, {2, 1}).to(gpu);
  try {
    kiln::gather(x, 1, index).to(cpu);
    FAIL() << "gather with index 5 of 3 succeeded";
  } catch (const kiln::Error& e) {
    EXPECT_NE(std::string(e.what()).find("gather"), std::string::npos) << e.what();
  }
  // The stream is usable afterwards.
  EXPECT_EQ(kiln::sum(x).item<float>(), 6.0f);
}

TEST_F(CudaBackend, TransfersRoundTripEveryDtype) {
  for (kiln::DType dt : {kiln::DType::Float32, kiln::DType::Float64, kiln::DType::Int32, kiln::DType::Int64,
                         kiln::DType::UInt8, kiln::DType::Bool}) {
    Tensor host = kiln::lt(kiln::rand({1000}, {.device = cpu}), 0.5).to(dt);
    Tensor back = host.to(gpu).to(cpu);
    EXPECT_TRUE(kiln::equal(host, back)) << kiln::dtype_name(dt);
  }
  // A strided view goes over as its values.
  Tensor m = kiln::arange(0, 12, 1, {.dtype = kiln::DType::Float32}).reshape({3, 4}).transpose(0, 1);
  EXPECT_EQ(values<float>(m.to(gpu)), values<float>(m));
}

TEST_F(CudaBackend, RandomFillsEqualTheCpuBitForBit) {
  kiln::Generator g1(1234), g2(1234);
  Tensor a = kiln::rand({4097}, {.device = gpu}, &g1), b = kiln::rand({4097}, {.device = cpu}, &g2);
  auto x = values<float>(a), y = values<float>(b);
  ASSERT_EQ(x.size(), y.size());
  EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)), 0);
  Tensor c = kiln::randn({1001}, {.device = gpu}, &g1), d = kiln::randn({1001}, {.device = cpu}, &g2);
  EXPECT_LT(max_abs_diff(c, d), 1e-6);
}

TEST_F(CudaBackend, LeNetStepMatchesTheReferenceBackend) {
  auto make = [] {
    kiln::manual_seed(7);
    return kiln::nn::Sequential{kiln::nn::Conv2d(1, 6, 5, {.padding = 2}), kiln::nn::ReLU(), kiln::nn::MaxPool2d(2),
                                kiln::nn::Conv2d(6, 16, 5),                kiln::nn::ReLU(), kiln::nn::MaxPool2d(2),
                                kiln::nn::Flatten(),                       kiln::nn::Linear(400, 120),
                                kiln::nn::ReLU(),                          kiln::nn::Linear(120, 10)};
  };
  kiln::Generator g(99);
  Tensor x = kiln::randn({8, 1, 28, 28}, {.device = cpu}, &g);
  Tensor y = kiln::randint(0, 10, {8}, {.dtype = kiln::DType::Int64, .device = cpu}, &g);
  auto on_cpu = make(), on_gpu = make();
  on_cpu->to(cpu);
  on_gpu->to(gpu);
  std::vector<float> losses;
  for (auto* net : {&on_cpu, &on_gpu}) {
    const Device d = net == &on_cpu ? cpu : gpu;
    kiln::optim::SGD opt((*net)->parameters(), 0.05, {.momentum = 0.9});
    for (int step = 0; step < 3; ++step) {
      opt.zero_grad();
      Tensor loss = kiln::nn::functional::cross_entropy((**net)(x.to(d)), y.to(d));
      loss.backward();
      opt.step();
      losses.push_back(loss.item<float>());
    }
  }
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(losses[i], losses[i + 3], 1e-4) << "step " << i;
  auto pc = on_cpu->named_parameters(), pg = on_gpu->named_parameters();
  ASSERT_EQ(pc.size(), pg.size());
  for (size_t i = 0; i < pc.size(); ++i) EXPECT_LT(max_abs_diff(pc[i].second, pg[i].second), 1e-4) << pc[i].first;
}

// The cuda plugin's count of cudaMalloc calls (kiln_cuda_malloc_count, a diagnostic symbol the
// plugin exports beside its ABI entry point).
uint64_t device_mallocs() {
  for (const auto& b : kiln::backends()) {
    if (b.name != "cuda") continue;
    void* handle = dlopen(b.file.c_str(), RTLD_NOW | RTLD_NOLOAD);
    if (handle == nullptr) return UINT64_MAX;
    auto count = reinterpret_cast<uint64_t (*)()>(dlsym(handle, "kiln_cuda_malloc_count"));
    const uint64_t n = count ? count() : UINT64_MAX;
    dlclose(handle);
    return n;
  }
  return UINT64_MAX;
}

// The caching allocator: once the first steps have run, a training step takes every buffer from
// the cache, so the allocator makes no cudaMalloc. (The device's free memory would not do as a
// measure: other processes share the GPU, ctest's parallel tests among them.)
TEST_F(CudaBackend, SteadyStateTrainingStepsAllocateNoDeviceMemory) {
  kiln::manual_seed(3);
  kiln::nn::Sequential net{kiln::nn::Conv2d(1, 8, 3, {.padding = 1}), kiln::nn::BatchNorm2d(8), kiln::nn::ReLU(),
                           kiln::nn::MaxPool2d(2), kiln::nn::Flatten(), kiln::nn::Linear(8 * 14 * 14, 10)};
  net->to(gpu);
  kiln::optim::Adam opt(net->parameters(), 1e-3);
  Tensor x = kiln::randn({32, 1, 28, 28}, {.device = gpu});
  Tensor y = kiln::randint(0, 10, {32}, {.dtype = kiln::DType::Int64, .device = gpu});
  auto step = [&] {
    opt.zero_grad();
    Tensor loss = kiln::nn::functional::cross_entropy(net(x), y);
    loss.backward();
    opt.step();
    return loss.item<float>();
  };
  for (int i = 0; i < 5; ++i) step();  // the first steps fill the cache and make the optimizer state
  const uint64_t before = device_mallocs();
  ASSERT_NE(before, UINT64_MAX) << "the cuda plugin does not export kiln_cuda_malloc_count";
  float last = 0;
  for (int i = 0; i < 20; ++i) last = step();
  EXPECT_EQ(device_mallocs(), before) << "cudaMalloc was called during steady-state training steps";
  EXPECT_TRUE(std::isfinite(last));
}

}  // namespace
