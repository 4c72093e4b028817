// LeNet-5 on Fashion-MNIST, one epoch, exactly as `kiln bench --model lenet` trains it, with every
// input of the run written out so that bench/parity/torch_parity.py can replay it in PyTorch from
// the same weights and the same batches (docs/benchmarks.md, "LeNet accuracy gap").
//
//   kiln_lenet_parity --seed 0 --out DIR [--backend tbb] [--steps N]
//
// DIR gets: params.txt (name and shape of each parameter, in order) and param_<i>.f32 (its
// initial values, raw little-endian float32), perm.i64 (the epoch's permutation), losses.txt (the
// loss of every step) and result.txt (test accuracy after the epoch).
#include <kiln/autograd.hpp>
#include <kiln/device.hpp>
#include <kiln/nn/functional.hpp>
#include <kiln/ops.hpp>
#include <kiln/optim.hpp>
#include <kiln/random.hpp>
#include <kiln/vision/mnist.hpp>
#include <kiln/vision/models.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace kiln;

namespace {

template <class T>
void write_raw(const std::filesystem::path& path, const std::vector<T>& values) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(T)));
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = 0;
  int64_t max_steps = -1;
  std::string out, backend = "tbb";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seed")) seed = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--out")) out = argv[i + 1];
    else if (!std::strcmp(argv[i], "--backend")) backend = argv[i + 1];
    else if (!std::strcmp(argv[i], "--steps")) max_steps = std::atoll(argv[i + 1]);
  }
  if (out.empty()) {
    std::fprintf(stderr, "usage: kiln_lenet_parity --seed S --out DIR [--backend B] [--steps N]\n");
    return 2;
  }
  std::filesystem::create_directories(out);
  set_default_device(Device(backend));
  const Device device = default_device();

  // the order of `kiln bench`: seed, model, data, optimizer, then the epoch's permutation
  manual_seed(seed);
  nn::ModulePtr model = vision::models::lenet5(10);
  model->to(device);
  const vision::Normalize normalize({0.2860}, {0.3530});
  const vision::TensorPair train = vision::FashionMNIST({.train = true, .normalize = normalize}).to_tensors(device);
  const vision::TensorPair test = vision::FashionMNIST({.train = false, .normalize = normalize}).to_tensors(device);
  optim::SGD opt(model->parameters(), 0.05, {.momentum = 0.9});

  std::ofstream names(std::filesystem::path(out) / "params.txt");
  int index = 0;
  for (const auto& [name, p] : model->named_parameters()) {
    names << name;
    for (int64_t d : p.shape()) names << ' ' << d;
    names << '\n';
    write_raw(std::filesystem::path(out) / ("param_" + std::to_string(index++) + ".f32"), p.to_vector<float>());
  }

  const int64_t n = train.inputs.shape()[0], bs = 64;
  Tensor perm = randperm(n, nullptr, device);
  write_raw(std::filesystem::path(out) / "perm.i64", perm.to_vector<int64_t>());
  std::ofstream losses(std::filesystem::path(out) / "losses.txt");
  model->train();
  int64_t step = 0;
  for (int64_t i = 0; i + bs <= n && (max_steps < 0 || step < max_steps); i += bs, ++step) {
    Tensor idx = perm.narrow(0, i, bs);
    opt.zero_grad();
    Tensor loss = nn::functional::cross_entropy((*model)(index_select(train.inputs, 0, idx)),
                                                index_select(train.targets, 0, idx));
    loss.backward();
    opt.step();
    losses << loss.item<float>() << '\n';
  }
  model->eval();
  NoGradGuard no_grad;
  int64_t correct = 0;
  const int64_t n_test = test.inputs.shape()[0];
  for (int64_t i = 0; i < n_test; i += 1000) {
    const int64_t len = std::min<int64_t>(1000, n_test - i);
    Tensor pred = argmax((*model)(test.inputs.narrow(0, i, len)), 1);
    correct += sum(eq(pred, test.targets.narrow(0, i, len)).to(DType::Int64)).item<int64_t>();
  }
  const double acc = static_cast<double>(correct) / static_cast<double>(n_test);
  std::ofstream(std::filesystem::path(out) / "result.txt") << acc << '\n';
  std::printf("kiln lenet parity seed=%llu steps=%lld test_acc=%.4f\n", static_cast<unsigned long long>(seed),
              static_cast<long long>(step), acc);
  return 0;
}
