// libFuzzer target for the .kiln reader (docs/file-format.md, "Fuzzing").
//
// Each input is taken as a whole .kiln file and loaded as a checkpoint (header, JSON, tensor index,
// architecture rebuild, tensors, optimizer state) with checksums NOT verified, so mutations reach
// the checks behind them; then the header-only path read_kiln_header takes is run. The only
// acceptable failure is kiln::DataError: any other exception, crash or sanitizer report is a bug.
//
// KILN_FUZZ_WRITE_SEEDS=<dir> ./kiln_load_fuzz   writes a seed corpus of small valid files and exits.
#include <kiln/nn/layers.hpp>
#include <kiln/optim.hpp>
#include <kiln/random.hpp>
#include <kiln/serialize.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "serialize_format.hpp"

namespace {
namespace kf = kiln::detail::kiln_file;
namespace nn = kiln::nn;

void train_once(nn::Module& model, kiln::optim::Optimizer& opt, const kiln::Tensor& x) {
  opt.zero_grad();
  model(x).sum().backward();
  opt.step();
}

void write_seeds(const std::string& dir) {
  kiln::manual_seed(1);
  nn::Sequential mlp{nn::Linear(4, 3), nn::ReLU(), nn::Dropout(0.2), nn::Linear(3, 2, {.bias = false})};
  kiln::save(*mlp, dir + "/mlp.kiln");

  nn::Sequential cnn{nn::Conv2d(1, 2, 3, {.padding = {1, 1}}), nn::BatchNorm2d(2), nn::ReLU(), nn::MaxPool2d(2),
                     nn::Conv2d(2, 2, 1, {.groups = 2, .bias = false}), nn::AvgPool2d(2), nn::Flatten(),
                     nn::Linear(2, 2), nn::BatchNorm1d(2), nn::LogSoftmax(1)};
  cnn(kiln::randn({2, 1, 4, 4}));
  kiln::save(*cnn, dir + "/cnn.kiln");

  nn::Sequential misc;
  misc->push_back("emb", nn::Embedding(5, 2, {.padding_idx = 0}));
  misc->push_back("norm", nn::LayerNorm(2));
  nn::ModuleDict heads;
  heads->insert("a", nn::Linear(2, 1));
  heads->insert("b", nn::ModuleList{nn::GELU(), nn::SiLU(), nn::Sigmoid(), nn::Tanh(), nn::LeakyReLU(0.2)});
  misc->push_back("heads", heads);
  misc->push_back("pool", nn::AdaptiveAvgPool2d(1));
  misc->push_back("out", nn::Softmax(-1));
  misc->push_back("id", nn::Identity());
  kiln::save(*misc, dir + "/misc.kiln");

  kiln::optim::SGD sgd(mlp->parameters(), 0.1, {.momentum = 0.9});
  train_once(*mlp, sgd, kiln::randn({2, 4}));
  kiln::save_checkpoint(dir + "/sgd_checkpoint.kiln", *mlp, &sgd, 3, {{"note", "seed"}, {"steps", {1, 2}}});
  kiln::optim::Adam adam(mlp->parameters(), 0.01);
  train_once(*mlp, adam, kiln::randn({2, 4}));
  kiln::save_checkpoint(dir + "/adam_checkpoint.kiln", *mlp, &adam, 7);
}
}  // namespace

// The plugin registry is never destroyed by design (plugins stay loaded until exit): not a leak.
extern "C" const char* __lsan_default_suppressions() { return "leak:kiln::detail::Registry::load_file\n"; }

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("KILN_LOG_LEVEL", "error", 0);
#ifdef KILN_FUZZ_PLUGIN_DIR
  setenv("KILN_PLUGIN_PATH", KILN_FUZZ_PLUGIN_DIR, 0);
#endif
  if (const char* dir = std::getenv("KILN_FUZZ_WRITE_SEEDS")) {
    write_seeds(dir);
    std::printf("seed corpus written to %s\n", dir);
    std::fflush(stdout);
    std::_Exit(0);  // skip exit-time leak reports for the plugin registry, which is never freed by design
  }
  kiln::randn({1});  // load the backend plugins once, outside the measured inputs
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    kf::load_from_memory(data, size, "fuzz.kiln", {.verify_checksums = false});
  } catch (const kiln::DataError&) {
  }
  try {
    kf::parse(data, size, "fuzz.kiln", {.verify_checksums = false, .read_data = false});
  } catch (const kiln::DataError&) {
  }
  return 0;
}
