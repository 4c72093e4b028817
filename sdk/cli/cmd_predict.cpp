// `kiln predict model.kiln IMAGE...`: the top-5 labels of each image with their probabilities.
#include <kiln/autograd.hpp>
#include <kiln/ops.hpp>
#include <kiln/serialize.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <numeric>

#include "commands.hpp"

#if defined(KILN_VISION_HAS_OPENCV)
#include <kiln/vision/image_io.hpp>
#include <kiln/vision/transforms.hpp>
#endif

namespace kiln::cli {
namespace {

void declare(Options& o) {
  o.visible.add_options()("top", po::value<int>()->default_value(5), "how many labels to print per image")(
      "backend", po::value<std::string>(), "device to run on (default: KILN_BACKEND, else cpu)");
  o.hidden.add_options()("model", po::value<std::string>(), "the .kiln file")(
      "images", po::value<std::vector<std::string>>(), "image files");
  o.positional.add("model", 1).add("images", -1);
}

int run(const po::variables_map& vm) {
#if !defined(KILN_VISION_HAS_OPENCV)
  (void)vm;
  throw Error("kiln predict needs image decoding, and this kiln was built without OpenCV (libopencv-dev)");
#else
  if (!vm.count("model")) throw UsageError("missing the model file");
  if (!vm.count("images")) throw UsageError("missing image files to classify");
  if (vm.count("backend")) set_default_device(Device(vm["backend"].as<std::string>()));
  int top = std::max(1, vm["top"].as<int>());
  const std::string path = vm["model"].as<std::string>();
  Checkpoint ckpt = load_checkpoint(path);
  const auto& meta = ckpt.metadata;
  KILN_CHECK(meta.contains("input_shape") && meta.at("input_shape").size() == 3, ValueError, path,
             ": the model has no input_shape in its metadata (save it with `kiln train`, or pass a model whose "
             "metadata has input_shape [C, H, W])");
  int64_t channels = meta.at("input_shape")[0].get<int64_t>();
  int64_t height = meta.at("input_shape")[1].get<int64_t>(), width = meta.at("input_shape")[2].get<int64_t>();
  std::vector<double> mean, std;
  if (meta.contains("normalize")) {
    mean = meta.at("normalize").at("mean").get<std::vector<double>>();
    std = meta.at("normalize").at("std").get<std::vector<double>>();
  }
  std::vector<std::string> classes;
  if (meta.contains("classes")) classes = meta.at("classes").get<std::vector<std::string>>();
  nn::Module& net = *ckpt.model;
  net.eval();
  net.to(default_device());
  NoGradGuard guard;
  namespace T = vision::transforms;
  for (const auto& file : vm["images"].as<std::vector<std::string>>()) {
    Tensor img = vision::read_image(file, channels == 1 ? vision::ImageReadMode::Gray : vision::ImageReadMode::RGB);
    Tensor x = T::functional::convert_image_dtype(img);
    if (x.shape()[1] != height || x.shape()[2] != width) x = T::functional::resize(x, T::Size(height, width));
    if (!mean.empty()) x = T::functional::normalize(x, mean, std);
    Tensor probs = softmax(net(x.unsqueeze(0).to(default_device())), 1).squeeze(0);
    std::vector<double> p = probs.to_vector<double>();
    std::vector<size_t> order(p.size());
    std::iota(order.begin(), order.end(), 0);
    size_t k = std::min<size_t>(static_cast<size_t>(top), p.size());
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                      [&](size_t a, size_t b) { return p[a] > p[b]; });
    std::cout << file << ":\n";
    for (size_t i = 0; i < k; ++i) {
      size_t c = order[i];
      std::string label = c < classes.size() ? classes[c] : "class " + std::to_string(c);
      char line[256];
      std::snprintf(line, sizeof line, "  %6.2f%%  %s\n", 100.0 * p[c], label.c_str());
      std::cout << line;
    }
  }
  return kExitOk;
#endif
}

}  // namespace

KILN_CLI_COMMAND(predict, {.name = "predict",
                           .summary = "Print the top-5 labels of images for a trained model",
                           .usage = "kiln predict [--top K] [--backend B] model.kiln IMAGE...",
                           .description = "Reads each image (PNG, JPEG, ... via OpenCV), converts it to the model's "
                                          "input channels and size, normalizes it as in training, and prints the "
                                          "K most probable labels with their probabilities.",
                           .declare = declare,
                           .run = run});

}  // namespace kiln::cli
