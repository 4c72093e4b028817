// kiln eval: a saved model's loss and accuracy on a data set's test split.
#include "commands.hpp"
#include "vision_data.hpp"

#include <kiln/data.hpp>
#include <kiln/device.hpp>
#include <kiln/model.hpp>
#include <kiln/optim.hpp>
#include <kiln/serialize.hpp>
#include <kiln/vision/models.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

namespace kiln::cli {
namespace {

void declare(Options& o) {
  o.visible.add_options()
      ("dataset", po::value<std::string>(),
       "fashion-mnist, mnist, kmnist, cifar10 or cifar100 (default: the one the model was trained on, "
       "as `kiln train` records it)")
      ("data-dir", po::value<std::string>()->default_value(""), "folder with the data set's files")
      ("backend", po::value<std::string>(), "device to run on (default: KILN_BACKEND, else cpu)")
      ("batch-size", po::value<int64_t>()->default_value(1000), "evaluation batch size")
      ("train-split", "evaluate on the training split instead of the test split")
      ("json", po::value<std::string>(), "also write the results as JSON to this file");
  o.hidden.add_options()("model-file", po::value<std::string>()->required(), "the .kiln file");
  o.positional.add("model-file", 1);
}

int run(const po::variables_map& vm) {
  const std::string path = vm["model-file"].as<std::string>();
  const int64_t batch_size = vm["batch-size"].as<int64_t>();
  if (batch_size < 1) throw UsageError("--batch-size must be at least 1");
  if (vm.count("backend")) set_default_device(Device(vm["backend"].as<std::string>()));
  vision::models::register_layers();  // so files holding a ResNet's BasicBlocks load

  Checkpoint ck = load_checkpoint(path);
  std::string dataset_name;
  if (vm.count("dataset")) {
    dataset_name = vm["dataset"].as<std::string>();
  } else if (ck.metadata.is_object() && ck.metadata.contains("dataset")) {
    dataset_name = ck.metadata["dataset"].get<std::string>();
  } else {
    throw UsageError(path + " does not record its data set; pass --dataset");
  }
  DatasetSpec spec = dataset_spec(dataset_name);
  const bool train_split = vm.count("train-split") > 0;
  Split split = load_split(spec, vm["data-dir"].as<std::string>(), train_split, /*as_tensors=*/true);
  data::TensorBatches batches(split.tensors.inputs, split.tensors.targets, {.batch_size = batch_size});

  Model model(ck.model);
  // evaluate needs only the loss and metrics; the optimizer is never stepped.
  model.compile([](std::vector<Tensor> params) { return std::make_shared<optim::SGD>(params, 0.0); }, "cross_entropy",
                {"accuracy"});
  auto start = std::chrono::steady_clock::now();
  Logs logs = model.evaluate(batches, 1);
  double seconds = seconds_since(start);
  const int64_t count = split.tensors.inputs.size(0);
  const double rate = seconds > 0 ? static_cast<double>(count) / seconds : 0.0;

  char line[200];
  std::snprintf(line, sizeof line, "%s on %s (%s split, %lld images, %s): accuracy %.4f, loss %.4f, %.0f samples/s\n",
                path.c_str(), dataset_name.c_str(), train_split ? "training" : "test", static_cast<long long>(count),
                default_device().str().c_str(), logs.at("accuracy"), logs.at("loss"), rate);
  std::cout << line;
  if (vm.count("json")) {
    const std::string json_file = vm["json"].as<std::string>();
    nlohmann::ordered_json j = {{"model_file", path},         {"dataset", dataset_name},
                                {"split", train_split ? "train" : "test"},
                                {"backend", default_device().str()}, {"samples", count},
                                {"accuracy", logs.at("accuracy")},   {"loss", logs.at("loss")},
                                {"infer_samples_per_s", rate}};
    std::ofstream f(json_file);
    f << j.dump(2) << "\n";
    f.close();
    if (!f) throw DataError(json_file + ": cannot write the JSON results");
  }
  return kExitOk;
}

}  // namespace

KILN_CLI_COMMAND(eval, {.name = "eval",
                        .summary = "Evaluate a saved model on a data set's test split",
                        .usage = "kiln eval <model.kiln> [--dataset fashion-mnist|mnist|kmnist|cifar10|cifar100] "
                                 "[--data-dir D] [--backend B] [--batch-size N] [--json F]",
                        .description = "Loads the model (no source needed: layers are rebuilt from the layer "
                                       "registry) and prints its accuracy and cross-entropy loss on the test "
                                       "images, normalized as `kiln train` normalized them.",
                        .declare = declare,
                        .run = run});

}  // namespace kiln::cli
