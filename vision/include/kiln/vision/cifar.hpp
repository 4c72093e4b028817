// CIFAR-10 and CIFAR-100 from their binary versions (cifar-10-batches-bin: data_batch_1..5.bin and
// test_batch.bin, records of 1 label byte + 3072 pixel bytes; cifar-100-binary: train.bin and
// test.bin, records of a coarse and a fine label byte + 3072 pixel bytes; pixels are the red, green
// and blue 32x32 planes).
//
// get(i) returns {float32 [3, 32, 32] in [0, 1] (normalized when options.normalize is set), int64
// scalar label}; to_tensors() the whole set as [N, 3, 32, 32] and [N].
//
// Where the files are looked for: options.root and root/<folder> (cifar-10-batches-bin,
// cifar-100-binary) when given; otherwise $KILN_DATA_DIR/<folder>, /usr/share/datasets/<folder>
// and $HOME/.local/share/kiln/datasets/<folder>. Errors are kiln::DataError, as for the MNIST
// family: the set missing (where it looked, where to download it), a truncated file (a size that
// is not a whole number of records; the byte offset of the partial record), a label out of range
// (file and byte offset).
#pragma once

#include <kiln/data/dataset.hpp>
#include <kiln/vision/mnist.hpp>
#include <kiln/vision/normalize.hpp>

#include <optional>
#include <string>
#include <vector>

namespace kiln::vision {

struct CIFAROptions {
  std::string root;  // the folder with the .bin files; "" = the default places
  bool train = true;
  std::optional<Normalize> normalize;
  bool coarse_labels = false;  // CIFAR-100 only: the 20 superclasses instead of the 100 classes
};

class CIFAR : public data::Dataset {
 public:
  int64_t size() const override { return count_; }
  data::Example get(int64_t index) const override;
  TensorPair to_tensors(const std::optional<Device>& device = {}) const;
  int64_t num_classes() const { return num_classes_; }
  const std::vector<std::string>& files() const { return files_; }
  const std::vector<uint8_t>& images() const { return images_; }  // count * 3 * 32 * 32, planar
  const std::vector<uint8_t>& labels() const { return labels_; }

  static constexpr int64_t kChannels = 3, kRows = 32, kCols = 32;

 protected:
  // label_bytes: 1 (CIFAR-10) or 2 (CIFAR-100); label_index: which of them is the label.
  CIFAR(const std::string& name, const std::string& folder, std::vector<std::string> file_names, int label_bytes,
        int label_index, int64_t num_classes, CIFAROptions options);

 private:
  std::string name_;
  CIFAROptions options_;
  int64_t num_classes_;
  std::vector<std::string> files_;
  std::vector<uint8_t> images_, labels_;
  int64_t count_ = 0;
};

class CIFAR10 : public CIFAR {
 public:
  explicit CIFAR10(CIFAROptions options = {});
  static const std::vector<std::string>& classes();
};

class CIFAR100 : public CIFAR {
 public:
  explicit CIFAR100(CIFAROptions options = {});
};

}  // namespace kiln::vision
