// `kiln bench`: the reference workloads of shared/bench/README.md, timed the same way as
// shared/bench/torch_fmnist.py so the two print comparable figures in one run.
#include <kiln/autograd.hpp>
#include <kiln/data.hpp>
#include <kiln/data/dataloader.hpp>
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
      ("model", po::value<std::string>()->default_value("lenet"), "mlp, lenet, cnn-bn, resnet18 or resnet34")
      ("dataset", po::value<std::string>()->default_value("fashion-mnist"), "fashion-mnist, mnist, kmnist, cifar10 or cifar100 (image layout and classes)")
      ("synthetic", po::bool_switch(), "random images and labels of the data set's layout instead of the files (speed only; no accuracy)")
      ("steps", po::value<int64_t>()->default_value(100), "with --synthetic: timed training steps per epoch")
      ("warmup", po::value<int64_t>()->default_value(10), "with --synthetic: untimed steps first (cuDNN algorithm search, allocator warm-up)")
      ("loader", po::bool_switch(), "time the DataLoader instead: one shuffled epoch of the training set through "
                                     "ToTensor+Normalize in batches (bench/torch_loader.py is PyTorch's side)")
      ("workers", po::value<std::vector<int>>()->multitoken()->default_value({0, 2}, "0 2"),
       "with --loader: the worker counts to time")
      ("backend", po::value<std::string>(), "device: tbb, blas, ref, cuda:0, ... (default: KILN_BACKEND, else cpu)")
      ("epochs", po::value<int>()->default_value(1), "training epochs")
      ("batch-size", po::value<int64_t>()->default_value(64), "training batch size (last partial batch dropped)")
      ("lr", po::value<double>()->default_value(0.05), "SGD learning rate (momentum 0.9)")
      ("seed", po::value<uint64_t>()->default_value(0), "random seed")
      ("data-dir", po::value<std::string>()->default_value(""), "Fashion-MNIST folder (default: Debian's)")
      ("limit", po::value<int64_t>()->default_value(0), "use only the first N training images (0: all)")
      ("json", po::value<std::string>(), "also write the figures as JSON to this file");
}


// Images and labels: the data set's files, or random ones of its layout (--synthetic).
struct BenchData {
  Tensor xtr, ytr, xte, yte;
  double load_s = 0;
};

BenchData load_data(const po::variables_map& vm, const DatasetSpec& spec, const Device& device, int64_t bs) {
  BenchData d;
  auto t0 = std::chrono::steady_clock::now();
  if (vm["synthetic"].as<bool>()) {
    // A pool of 16 batches, cycled through; 10 inference batches of 1000.
    const Shape image{spec.channels, spec.image_size, spec.image_size};
    auto batch_shape = [&](int64_t n) { return Shape{n, image[0], image[1], image[2]}; };
    d.xtr = randn(batch_shape(16 * bs), {.device = device});
    d.ytr = randint(0, spec.num_classes, {16 * bs}, {.dtype = DType::Int64, .device = device});
    d.xte = randn(batch_shape(10000), {.device = device});
    d.yte = randint(0, spec.num_classes, {10000}, {.dtype = DType::Int64, .device = device});
  } else {
    Split train = load_split(spec, vm["data-dir"].as<std::string>(), true, true);
    Split test = load_split(spec, vm["data-dir"].as<std::string>(), false, true);
    d.xtr = train.tensors.inputs.to(device);
    d.ytr = train.tensors.targets.to(device);
    d.xte = test.tensors.inputs.to(device);
    d.yte = test.tensors.targets.to(device);
    if (int64_t limit = vm["limit"].as<int64_t>(); limit > 0 && limit < d.xtr.shape()[0]) {
      d.xtr = d.xtr.narrow(0, 0, limit);
      d.ytr = d.ytr.narrow(0, 0, limit);
    }
  }
  synchronize(device);
  d.load_s = seconds_since(t0);
  return d;
}

// --loader: images per second out of a DataLoader over the data set's training images, each
// decoded from the IDX/CIFAR bytes and put through ToTensor+Normalize, as torchvision's
// datasets do; one shuffled epoch per worker count, the first batch included.
int run_loader(const po::variables_map& vm) {
  DatasetSpec spec = dataset_spec(vm["dataset"].as<std::string>());
  const int64_t bs = vm["batch-size"].as<int64_t>();
  if (bs < 1) throw UsageError("--batch-size must be positive");
  Split train = load_split(spec, vm["data-dir"].as<std::string>(), true, false);
  nlohmann::ordered_json runs = nlohmann::ordered_json::array();
  for (int workers : vm["workers"].as<std::vector<int>>()) {
    if (workers < 0) throw UsageError("--workers must be >= 0");
    data::DataLoader loader(train.dataset, {.batch_size = bs, .shuffle = true, .seed = vm["seed"].as<uint64_t>(),
                                            .num_workers = workers});
    auto t = std::chrono::steady_clock::now();
    loader.start_epoch(0);
    int64_t images = 0;
    while (auto batch = loader.next()) images += batch->input.shape()[0];
    const double s = seconds_since(t);
    std::printf("kiln 0.1.0 loader data=%s bs=%lld workers=%d images=%lld seconds=%.2f images_per_s=%.0f\n",
                spec.name.c_str(), static_cast<long long>(bs), workers, static_cast<long long>(images), s,
                static_cast<double>(images) / s);
    runs.push_back({{"workers", workers}, {"images", images}, {"seconds", s},
                    {"images_per_s", static_cast<double>(images) / s}});
  }
  if (vm.count("json")) std::ofstream(vm["json"].as<std::string>()) << runs.dump(2) << "\n";
  return kExitOk;
}

int run(const po::variables_map& vm) {
  if (vm["loader"].as<bool>()) return run_loader(vm);
  std::string model_name = vm["model"].as<std::string>();
  if (vm.count("backend")) set_default_device(Device(vm["backend"].as<std::string>()));
  Device device = default_device();
  int epochs = vm["epochs"].as<int>();
  int64_t bs = vm["batch-size"].as<int64_t>();
  const bool synthetic = vm["synthetic"].as<bool>();
  const int64_t steps = vm["steps"].as<int64_t>(), warmup = vm["warmup"].as<int64_t>();
  if (epochs < 1 || bs < 1) throw UsageError("--epochs and --batch-size must be positive");
  if (synthetic && (steps < 1 || warmup < 0)) throw UsageError("--steps must be positive and --warmup not negative");
  manual_seed(vm["seed"].as<uint64_t>());

  DatasetSpec spec = dataset_spec(vm["dataset"].as<std::string>());
  nn::ModulePtr model = make_model(model_name, spec);  // UsageError for a model the images don't fit
  model->to(device);
  BenchData data = load_data(vm, spec, device, bs);
  optim::SGD opt(model->parameters(), vm["lr"].as<double>(), {.momentum = 0.9});

  auto step = [&](const Tensor& xb, const Tensor& yb) {
    opt.zero_grad();
    Tensor loss = nn::functional::cross_entropy((*model)(xb), yb);
    loss.backward();
    opt.step();
  };
  int64_t n = data.xtr.shape()[0];
  int64_t samples = 0;
  double train_s = 0;
  model->train();
  if (synthetic) {
    auto batch = [&](int64_t i) {
      int64_t start = (i % 16) * bs;
      return std::pair{data.xtr.narrow(0, start, bs), data.ytr.narrow(0, start, bs)};
    };
    for (int64_t i = 0; i < warmup; ++i) {
      auto [xb, yb] = batch(i);
      step(xb, yb);
    }
    synchronize(device);
    reset_op_profile();  // KILN_PROFILE: time the measured steps only
    for (int ep = 0; ep < epochs; ++ep) {
      auto t = std::chrono::steady_clock::now();
      for (int64_t i = 0; i < steps; ++i) {
        auto [xb, yb] = batch(i);
        step(xb, yb);
      }
      synchronize(device);
      train_s += seconds_since(t);
      samples += steps * bs;
    }
  } else {
    for (int ep = 0; ep < epochs; ++ep) {
      Tensor perm = randperm(n, nullptr, device);
      auto t = std::chrono::steady_clock::now();
      for (int64_t i = 0; i + bs <= n; i += bs) {
        Tensor idx = perm.narrow(0, i, bs);
        step(index_select(data.xtr, 0, idx), index_select(data.ytr, 0, idx));
      }
      synchronize(device);
      train_s += seconds_since(t);
      samples += (n / bs) * bs;
    }
  }
  if (synthetic) {  // KILN_PROFILE: the training steps' table; the one at exit is inference's
    print_op_profile();
    reset_op_profile();
  }
  model->eval();
  {  // one untimed batch: the inference shapes' first run (cuDNN algorithm search, allocations)
    NoGradGuard guard;
    (void)argmax((*model)(data.xte.narrow(0, 0, std::min<int64_t>(1000, data.xte.shape()[0]))), 1);
    synchronize(device);
  }
  auto t = std::chrono::steady_clock::now();
  int64_t correct = 0, n_test = data.xte.shape()[0];
  {
    NoGradGuard guard;
    Tensor hits = zeros({}, {.dtype = DType::Int64, .device = device});
    for (int64_t i = 0; i < n_test; i += 1000) {
      int64_t len = std::min<int64_t>(1000, n_test - i);
      Tensor pred = argmax((*model)(data.xte.narrow(0, i, len)), 1);
      hits = add(hits, sum(eq(pred, data.yte.narrow(0, i, len)).to(DType::Int64)));
    }
    correct = hits.item<int64_t>();  // one read back, so GPU inference is not serialized per batch
  }
  double infer_s = seconds_since(t);
  double train_sps = static_cast<double>(samples) / train_s;
  double infer_sps = static_cast<double>(n_test) / infer_s;
  double acc = static_cast<double>(correct) / static_cast<double>(n_test);
  std::printf("kiln 0.1.0 backend=%s model=%s data=%s%s bs=%lld epochs=%d load_s=%.2f train_samples_per_s=%.0f "
              "infer_samples_per_s=%.0f",
              device.str().c_str(), model_name.c_str(), spec.name.c_str(), synthetic ? "(synthetic)" : "",
              static_cast<long long>(bs), epochs, data.load_s, train_sps, infer_sps);
  if (synthetic) std::printf(" steps=%lld warmup=%lld\n", static_cast<long long>(steps), static_cast<long long>(warmup));
  else std::printf(" test_acc=%.4f\n", acc);
  if (vm.count("json")) {
    nlohmann::ordered_json j{{"model", model_name},         {"backend", device.str()},
                             {"epochs", epochs},            {"batch_size", bs},
                             {"train_samples_per_s", train_sps}, {"infer_samples_per_s", infer_sps},
                             {"dataset", spec.name},       {"synthetic", synthetic},
                             {"load_s", data.load_s}};
    if (!synthetic) j["test_accuracy"] = acc;
    std::ofstream(vm["json"].as<std::string>()) << j.dump(2) << "\n";
  }
  return kExitOk;
}

}  // namespace

KILN_CLI_COMMAND(bench, {.name = "bench",
                         .summary = "Time training and inference as PyTorch's benchmark scripts do (real or synthetic data)",
                         .usage = "kiln bench [--model M] [--dataset D] [--synthetic [--steps N] [--warmup W]] [--backend B] "
                                  "[--epochs N] [--batch-size B] [--json F]",
                         .description = "Trains and evaluates exactly the workload of shared/bench/torch_fmnist.py "
                                        "(data in memory, a fresh permutation each epoch, SGD lr 0.05 momentum 0.9, "
                                        "inference in batches of 1000 without gradients) and prints the same "
                                        "figures: train and inference samples per second and test accuracy. "
                                        "--synthetic times the same step on random data of the data set's layout "
                                        "as bench/torch_bench.py does (e.g. --model resnet18 --dataset cifar10 "
                                        "--batch-size 128 --backend cuda), synchronizing the device before "
                                        "each clock read.",
                         .declare = declare,
                         .run = run});

}  // namespace kiln::cli
