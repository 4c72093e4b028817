// `kiln bench`: the reference workloads of shared/bench/README.md, timed the same way as
// shared/bench/torch_fmnist.py so the two print comparable figures in one run.
#include <kiln/autograd.hpp>
#include <kiln/data.hpp>
#include <kiln/nn/functional.hpp>
#include <kiln/ops.hpp>
#include <kiln/optim.hpp>
#include <kiln/random.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "commands.hpp"
#include "vision_data.hpp"

namespace kiln::cli {
namespace {

void declare(Options& o) {
  o.visible.add_options()
      ("model", po::value<std::string>()->default_value("lenet"), "mlp or lenet (shared/bench/README.md)")
      ("backend", po::value<std::string>(), "device: tbb, blas, ref, cuda:0, ... (default: KILN_BACKEND, else cpu)")
      ("epochs", po::value<int>()->default_value(1), "training epochs")
      ("batch-size", po::value<int64_t>()->default_value(64), "training batch size (last partial batch dropped)")
      ("lr", po::value<double>()->default_value(0.05), "SGD learning rate (momentum 0.9)")
      ("seed", po::value<uint64_t>()->default_value(0), "random seed")
      ("data-dir", po::value<std::string>()->default_value(""), "Fashion-MNIST folder (default: Debian's)")
      ("limit", po::value<int64_t>()->default_value(0), "use only the first N training images (0: all)")
      ("json", po::value<std::string>(), "also write the figures as JSON to this file");
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int run(const po::variables_map& vm) {
  std::string model_name = vm["model"].as<std::string>();
  if (model_name != "mlp" && model_name != "lenet") throw UsageError("--model must be mlp or lenet, got '" + model_name + "'");
  if (vm.count("backend")) set_default_device(Device(vm["backend"].as<std::string>()));
  Device device = default_device();
  int epochs = vm["epochs"].as<int>();
  int64_t bs = vm["batch-size"].as<int64_t>();
  if (epochs < 1 || bs < 1) throw UsageError("--epochs and --batch-size must be positive");
  manual_seed(vm["seed"].as<uint64_t>());

  auto t0 = std::chrono::steady_clock::now();
  DatasetSpec spec = dataset_spec("fashion-mnist");
  Split train = load_split(spec, vm["data-dir"].as<std::string>(), true, true);
  Split test = load_split(spec, vm["data-dir"].as<std::string>(), false, true);
  Tensor xtr = train.tensors.inputs.to(device), ytr = train.tensors.targets.to(device);
  Tensor xte = test.tensors.inputs.to(device), yte = test.tensors.targets.to(device);
  if (int64_t limit = vm["limit"].as<int64_t>(); limit > 0 && limit < xtr.shape()[0]) {
    xtr = xtr.narrow(0, 0, limit);
    ytr = ytr.narrow(0, 0, limit);
  }
  double load_s = seconds_since(t0);

  nn::ModulePtr model = make_model(model_name, spec);
  model->to(device);
  optim::SGD opt(model->parameters(), vm["lr"].as<double>(), {.momentum = 0.9});
  int64_t n = xtr.shape()[0];
  int64_t steps_per_epoch = n / bs;
  double train_s = 0;
  for (int ep = 0; ep < epochs; ++ep) {
    Tensor perm = randperm(n, nullptr, device);
    model->train();
    auto t = std::chrono::steady_clock::now();
    for (int64_t i = 0; i + bs <= n; i += bs) {
      Tensor idx = perm.narrow(0, i, bs);
      Tensor xb = index_select(xtr, 0, idx), yb = index_select(ytr, 0, idx);
      opt.zero_grad();
      Tensor loss = nn::functional::cross_entropy((*model)(xb), yb);
      loss.backward();
      opt.step();
    }
    train_s += seconds_since(t);
  }
  model->eval();
  auto t = std::chrono::steady_clock::now();
  int64_t correct = 0, n_test = xte.shape()[0];
  {
    NoGradGuard guard;
    for (int64_t i = 0; i < n_test; i += 1000) {
      int64_t len = std::min<int64_t>(1000, n_test - i);
      Tensor pred = argmax((*model)(xte.narrow(0, i, len)), 1);
      correct += sum(eq(pred, yte.narrow(0, i, len)).to(DType::Int64)).item<int64_t>();
    }
  }
  double infer_s = seconds_since(t);
  double train_sps = static_cast<double>(steps_per_epoch * epochs * bs) / train_s;
  double infer_sps = static_cast<double>(n_test) / infer_s;
  double acc = static_cast<double>(correct) / static_cast<double>(n_test);
  std::printf("kiln 0.1.0 backend=%s model=%s bs=%lld epochs=%d load_s=%.2f train_samples_per_s=%.0f "
              "infer_samples_per_s=%.0f test_acc=%.4f\n",
              device.str().c_str(), model_name.c_str(), static_cast<long long>(bs), epochs, load_s, train_sps,
              infer_sps, acc);
  if (vm.count("json")) {
    nlohmann::ordered_json j{{"model", model_name},         {"backend", device.str()},
                             {"epochs", epochs},            {"batch_size", bs},
                             {"train_samples_per_s", train_sps}, {"infer_samples_per_s", infer_sps},
                             {"test_accuracy", acc},        {"load_s", load_s}};
    std::ofstream(vm["json"].as<std::string>()) << j.dump(2) << "\n";
  }
  return kExitOk;
}

}  // namespace

KILN_CLI_COMMAND(bench, {.name = "bench",
                         .summary = "Time the reference workloads (MLP, LeNet-5 on Fashion-MNIST) as PyTorch's script does",
                         .usage = "kiln bench [--model mlp|lenet] [--backend B] [--epochs N] [--batch-size B] [--json F]",
                         .description = "Trains and evaluates exactly the workload of shared/bench/torch_fmnist.py "
                                        "(data in memory, a fresh permutation each epoch, SGD lr 0.05 momentum 0.9, "
                                        "inference in batches of 1000 without gradients) and prints the same "
                                        "figures: train and inference samples per second and test accuracy.",
                         .declare = declare,
                         .run = run});

}  // namespace kiln::cli
