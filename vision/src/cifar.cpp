#include <kiln/vision/cifar.hpp>

#include "data_files.hpp"

#include <kiln/error.hpp>
#include <kiln/ops.hpp>
#include <kiln/vision/idx.hpp>

namespace kiln::vision {

namespace {
constexpr size_t kPixels = CIFAR::kChannels * CIFAR::kRows * CIFAR::kCols;

std::vector<std::string> cifar10_files(bool train) {
  if (!train) return {"test_batch.bin"};
  return {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"};
}

void to_float(const uint8_t* src, float* dst, size_t images, const std::optional<Normalize>& normalize) {
  constexpr size_t plane = CIFAR::kRows * CIFAR::kCols;
  for (size_t i = 0; i < images; ++i) {
    for (int64_t c = 0; c < CIFAR::kChannels; ++c) {
      float scale = 1.0f / 255.0f, shift = 0.0f;
      if (normalize) {
        scale = static_cast<float>(1.0 / (255.0 * normalize->std_of(c)));
        shift = static_cast<float>(-normalize->mean_of(c) / normalize->std_of(c));
      }
      const uint8_t* s = src + (i * CIFAR::kChannels + static_cast<size_t>(c)) * plane;
      float* d = dst + (i * CIFAR::kChannels + static_cast<size_t>(c)) * plane;
      for (size_t k = 0; k < plane; ++k) d[k] = static_cast<float>(s[k]) * scale + shift;
    }
  }
}
}  // namespace

CIFAR::CIFAR(const std::string& name, const std::string& folder, std::vector<std::string> file_names, int label_bytes,
             int label_index, int64_t num_classes, CIFAROptions options)
    : name_(name), options_(std::move(options)), num_classes_(num_classes) {
  KILN_CHECK(!options_.normalize || options_.normalize->mean.size() == 1 ||
                 options_.normalize->mean.size() == static_cast<size_t>(kChannels),
             ValueError, name_, ": Normalize needs 1 or 3 means, got ", options_.normalize->mean.size());
  std::vector<std::string> dirs = detail::candidate_dirs(options_.root, folder);
  std::string provider = "No Debian package ships it. Download the binary version from "
                         "https://www.cs.toronto.edu/~kriz/cifar.html (" + folder.substr(0, folder.find('-', 6)) +
                         "-binary.tar.gz), unpack it and pass the folder " + folder +
                         " (or its parent) as the root (kiln train --data-dir).";
  std::string what = name_ + (options_.train ? " training set" : " test set");
  size_t record = static_cast<size_t>(label_bytes) + kPixels;
  for (const auto& file_name : file_names) {
    std::string path = detail::find_file(dirs, file_name, false);
    if (path.empty()) detail::throw_not_found(what, file_name, dirs, provider, false);
    files_.push_back(path);
    std::vector<uint8_t> bytes = read_maybe_gzip(path);
    size_t records = bytes.size() / record;
    KILN_CHECK(bytes.size() % record == 0 && records > 0, DataError, path, ": byte ", records * record,
               ": truncated or corrupt CIFAR batch: ", bytes.size(), " bytes is not a whole number of ", record,
               "-byte records");
    for (size_t r = 0; r < records; ++r) {
      const uint8_t* rec = bytes.data() + r * record;
      uint8_t label = rec[label_index];
      KILN_CHECK(label < num_classes_, DataError, path, ": byte ", r * record + static_cast<size_t>(label_index),
                 ": label ", int(label), " of record ", r, " is out of range [0, ", num_classes_, ") for ", name_);
      labels_.push_back(label);
      images_.insert(images_.end(), rec + label_bytes, rec + record);
    }
  }
  count_ = static_cast<int64_t>(labels_.size());
}

data::Example CIFAR::get(int64_t index) const {
  KILN_CHECK(index >= 0 && index < count_, IndexError, name_, ": index ", index, " out of range for ", count_,
             " examples");
  std::vector<float> values(kPixels);
  to_float(images_.data() + static_cast<size_t>(index) * kPixels, values.data(), 1, options_.normalize);
  return {from_vector(values, {kChannels, kRows, kCols}),
          scalar_tensor(labels_[static_cast<size_t>(index)], {.dtype = DType::Int64})};
}

TensorPair CIFAR::to_tensors(const std::optional<Device>& device) const {
  std::vector<float> values(images_.size());
  to_float(images_.data(), values.data(), static_cast<size_t>(count_), options_.normalize);
  std::vector<int64_t> targets(labels_.begin(), labels_.end());
  return {from_vector(values, {count_, kChannels, kRows, kCols}, device), from_vector(targets, {count_}, device)};
}

CIFAR10::CIFAR10(CIFAROptions options)
    : CIFAR("CIFAR10", "cifar-10-batches-bin", cifar10_files(options.train), 1, 0, 10, options) {}

const std::vector<std::string>& CIFAR10::classes() {
  static const std::vector<std::string> names{"airplane", "automobile", "bird", "cat", "deer",
                                              "dog", "frog", "horse", "ship", "truck"};
  return names;
}

CIFAR100::CIFAR100(CIFAROptions options)
    : CIFAR("CIFAR100", "cifar-100-binary", {options.train ? "train.bin" : "test.bin"}, 2,
            options.coarse_labels ? 0 : 1, options.coarse_labels ? 20 : 100, options) {}

}  // namespace kiln::vision
