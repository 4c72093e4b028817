// kiln summary: what a .kiln file holds: its layers, output shapes and parameter counts.
#include "commands.hpp"

#include <kiln/model.hpp>
#include <kiln/serialize.hpp>
#include <kiln/vision/models.hpp>

#include <nlohmann/json.hpp>

#include <iostream>
#include <sstream>

namespace kiln::cli {
namespace {

Shape parse_shape(const std::string& text) {
  std::vector<int64_t> dims;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    try {
      size_t used = 0;
      int64_t d = std::stoll(part, &used);
      if (used != part.size() || d < 1) throw std::invalid_argument(part);
      dims.push_back(d);
    } catch (const std::exception&) {
      throw UsageError("--input-shape expects positive integers separated by commas (e.g. 1,28,28), got '" + text + "'");
    }
  }
  if (dims.empty()) throw UsageError("--input-shape is empty");
  return Shape(dims);
}

void declare(Options& o) {
  o.visible.add_options()("input-shape", po::value<std::string>(),
                          "one sample's shape without the batch axis, e.g. 1,28,28 (default: the shape `kiln "
                          "train` recorded; without one, output shapes show as ?)");
  o.hidden.add_options()("model-file", po::value<std::string>()->required(), "the .kiln file");
  o.positional.add("model-file", 1);
}

int run(const po::variables_map& vm) {
  const std::string path = vm["model-file"].as<std::string>();
  vision::models::register_layers();  // so files holding a ResNet's BasicBlocks load
  nlohmann::ordered_json header = read_kiln_header(path);
  Checkpoint ck = load_checkpoint(path);
  Shape input_shape;
  const auto& meta = ck.metadata;
  if (vm.count("input-shape")) {
    input_shape = parse_shape(vm["input-shape"].as<std::string>());
  } else if (meta.is_object() && meta.contains("input_shape")) {
    input_shape = Shape(meta["input_shape"].get<std::vector<int64_t>>());
  }

  std::cout << path << ": .kiln format " << header["header"]["format_version"].get<int64_t>() << ", written by Kiln "
            << header.value("kiln_version", std::string("?")) << ", " << header["header"]["file_size"].get<int64_t>()
            << " bytes" << (ck.epoch >= 0 ? ", trained " + std::to_string(ck.epoch + 1) + (ck.epoch == 0 ? " epoch" : " epochs")
                            : std::string())
            << "\n";
  if (meta.is_object()) {
    if (meta.contains("model") && meta.contains("dataset"))
      std::cout << "Trained by `kiln train --model " << meta["model"].get<std::string>() << " --dataset "
                << meta["dataset"].get<std::string>() << "`";
    if (meta.contains("test_accuracy")) std::cout << ", test accuracy " << meta["test_accuracy"].get<double>();
    std::cout << "\n";
  }
  std::cout << "\n";
  Model model(ck.model);
  model.summary(input_shape);
  return kExitOk;
}

}  // namespace

KILN_CLI_COMMAND(summary, {.name = "summary",
                           .summary = "Print a saved model's layers, output shapes and parameter counts",
                           .usage = "kiln summary <model.kiln> [--input-shape C,H,W]",
                           .description = "Loads the model (no source needed: layers are rebuilt from the layer "
                                          "registry) and prints a Keras-style table of its layers.",
                           .declare = declare,
                           .run = run});

}  // namespace kiln::cli
