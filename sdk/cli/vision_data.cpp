#include "vision_data.hpp"

#include "commands.hpp"

#include <kiln/vision/cifar.hpp>
#include <kiln/vision/models.hpp>

namespace kiln::cli {

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return out;
}

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names{"fashion-mnist", "mnist", "kmnist", "cifar10", "cifar100"};
  return names;
}

DatasetSpec dataset_spec(const std::string& name) {
  // Means and stds of each training set (the usual published values).
  if (name == "fashion-mnist") return {name, 1, 28, 10, {0.2860}, {0.3530}};
  if (name == "mnist") return {name, 1, 28, 10, {0.1307}, {0.3081}};
  if (name == "kmnist") return {name, 1, 28, 10, {0.1918}, {0.3483}};
  if (name == "cifar10") return {name, 3, 32, 10, {0.4914, 0.4822, 0.4465}, {0.2470, 0.2435, 0.2616}};
  if (name == "cifar100") return {name, 3, 32, 100, {0.5071, 0.4865, 0.4409}, {0.2673, 0.2564, 0.2762}};
  throw UsageError("unknown data set '" + name + "' (expected " + join_names(dataset_names()) + ")");
}

Split load_split(const DatasetSpec& spec, const std::string& data_dir, bool train, bool as_tensors) {
  vision::Normalize normalize(spec.mean, spec.std);
  Split split;
  if (spec.channels == 1) {
    vision::MNISTOptions o{.root = data_dir, .train = train, .normalize = normalize};
    std::shared_ptr<vision::MNIST> ds;
    if (spec.name == "fashion-mnist") ds = std::make_shared<vision::FashionMNIST>(o);
    else if (spec.name == "kmnist") ds = std::make_shared<vision::KMNIST>(o);
    else ds = std::make_shared<vision::MNIST>(o);
    if (as_tensors) split.tensors = ds->to_tensors();
    split.classes = ds->classes();
    split.dataset = ds;
  } else {
    vision::CIFAROptions o{.root = data_dir, .train = train, .normalize = normalize};
    std::shared_ptr<vision::CIFAR> ds;
    if (spec.name == "cifar10") ds = std::make_shared<vision::CIFAR10>(o);
    else ds = std::make_shared<vision::CIFAR100>(o);
    if (as_tensors) split.tensors = ds->to_tensors();
    if (spec.name == "cifar10") split.classes = vision::CIFAR10::classes();
    for (int64_t c = static_cast<int64_t>(split.classes.size()); c < spec.num_classes; ++c)
      split.classes.push_back("class " + std::to_string(c));
    split.dataset = ds;
  }
  return split;
}

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names{"mlp", "lenet", "cnn-bn", "resnet18", "resnet34"};
  return names;
}

nn::ModulePtr make_model(const std::string& name, const DatasetSpec& spec) {
  namespace m = vision::models;
  if (name == "mlp") return m::mlp(spec.channels * spec.image_size * spec.image_size, spec.num_classes);
  if (name == "lenet") {
    if (spec.channels != 1 || spec.image_size != 28)
      throw UsageError("lenet takes 28x28 grayscale images; " + spec.name + " has " + std::to_string(spec.channels) +
                       "-channel " + std::to_string(spec.image_size) + "x" + std::to_string(spec.image_size) +
                       " images (use cnn-bn or resnet18)");
    return m::lenet5(spec.num_classes);
  }
  if (name == "cnn-bn")
    return m::cnn_bn({.in_channels = spec.channels, .image_size = spec.image_size, .num_classes = spec.num_classes});
  m::ResNetOptions r{.num_classes = spec.num_classes, .in_channels = spec.channels, .cifar_stem = true};
  if (name == "resnet18") return m::resnet18(r);
  if (name == "resnet34") return m::resnet34(r);
  throw UsageError("unknown model '" + name + "' (expected " + join_names(model_names()) + ")");
}

}  // namespace kiln::cli
