// The data sets and models `kiln train` and `kiln eval` know by name (private to the CLI).
#pragma once

#include <kiln/data/dataset.hpp>
#include <kiln/nn/module.hpp>
#include <kiln/vision/mnist.hpp>
#include <kiln/vision/normalize.hpp>

#include <string>
#include <vector>

namespace kiln::cli {

struct DatasetSpec {
  std::string name;  // "fashion-mnist"
  int64_t channels = 1, image_size = 28, num_classes = 10;
  std::vector<double> mean, std;  // the training set's per-channel statistics
};

// The spec of a --dataset name; UsageError listing the known names otherwise.
DatasetSpec dataset_spec(const std::string& name);
const std::vector<std::string>& dataset_names();

// One split, normalized with the spec's statistics, from data_dir ("" = the default places).
struct Split {
  data::DatasetPtr dataset;
  vision::TensorPair tensors;  // filled by load_split when as_tensors
  std::vector<std::string> classes;  // label names, index = class
};
Split load_split(const DatasetSpec& spec, const std::string& data_dir, bool train, bool as_tensors);

// A fresh, initialised model of a --model name for that data set; UsageError for an unknown name
// or one that cannot take the data set's images.
nn::ModulePtr make_model(const std::string& name, const DatasetSpec& spec);
const std::vector<std::string>& model_names();

// "a, b or c"
std::string join_names(const std::vector<std::string>& names);

}  // namespace kiln::cli
