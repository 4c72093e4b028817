// The MNIST family from IDX files (gzip or raw): MNIST, FashionMNIST, KMNIST, EMNIST(split).
//
//   vision::FashionMNIST train({.train = true, .normalize = vision::Normalize(0.2860, 0.3530)});
//   data::DataLoader loader(std::make_shared<vision::FashionMNIST>(train), {.batch_size = 64});
//   auto [x, y] = train.to_tensors();  // the whole set at once, for data::TensorBatches
//
// The images stay in memory as uint8; get(i) returns {float32 [1, 28, 28] in [0, 1] (then
// normalized when options.normalize is set), int64 scalar label}.
//
// Where the files are looked for: options.root, root/<folder> and root/<Name>/raw (torchvision's
// layout) when a root is given; otherwise $KILN_DATA_DIR/<folder>, /usr/share/datasets/<folder>
// (Debian's dataset packages) and $HOME/.local/share/kiln/datasets/<folder>. Each of the four files
// (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-...) may be raw or end in .gz.
//
// Errors (kiln::DataError): the set is missing (the message lists where it looked and which Debian
// package or download provides it); a file is truncated or corrupt (the message names the file
// and byte offset): wrong magic, extents that disagree with the file size or with the other file,
// images not 28x28, a label out of range.
#pragma once

#include <kiln/data/dataset.hpp>
#include <kiln/vision/normalize.hpp>

#include <optional>
#include <string>
#include <vector>

namespace kiln::vision {

struct MNISTOptions {
  std::string root;  // a folder holding the IDX files; "" = the default places (above)
  bool train = true;  // the training set (else the test set)
  std::optional<Normalize> normalize;  // applied after scaling to [0, 1]
};

// A whole set as tensors: inputs [N, C, H, W] float32 (normalized), targets [N] int64.
struct TensorPair {
  Tensor inputs;
  Tensor targets;
};

// What distinguishes the members of the family.
struct MNISTFamily {
  std::string name;         // "FashionMNIST"
  std::string folder;       // default sub-folder, "fashion-mnist"
  std::string file_prefix;  // before "train-images-idx3-ubyte": "" or "emnist-letters-"
  std::vector<std::string> classes;
  std::string provider;     // how to get it: a Debian package or a download address
};

class MNIST : public data::Dataset {
 public:
  explicit MNIST(MNISTOptions options = {});
  int64_t size() const override { return count_; }
  data::Example get(int64_t index) const override;
  // The whole set: inputs [N, 1, 28, 28] float32 normalized like get(), targets [N] int64, on
  // `device` (default: the default device).
  TensorPair to_tensors(const std::optional<Device>& device = {}) const;

  int64_t num_classes() const { return static_cast<int64_t>(family_.classes.size()); }
  const std::vector<std::string>& classes() const { return family_.classes; }
  const MNISTFamily& family() const { return family_; }
  const MNISTOptions& options() const { return options_; }
  // The files actually read.
  const std::string& images_file() const { return images_file_; }
  const std::string& labels_file() const { return labels_file_; }
  // The raw data: count * 28 * 28 image bytes, count labels.
  const std::vector<uint8_t>& images() const { return images_; }
  const std::vector<uint8_t>& labels() const { return labels_; }

  static constexpr int64_t kRows = 28, kCols = 28;

 protected:
  MNIST(MNISTFamily family, MNISTOptions options);

 private:
  void load();
  MNISTFamily family_;
  MNISTOptions options_;
  std::string images_file_, labels_file_;
  std::vector<uint8_t> images_, labels_;
  int64_t count_ = 0;
};

// Zalando's clothing images (Debian: dataset-fashion-mnist, in /usr/share/datasets/fashion-mnist).
class FashionMNIST : public MNIST {
 public:
  explicit FashionMNIST(MNISTOptions options = {});
};

// Kuzushiji-MNIST: ten cursive Japanese characters.
class KMNIST : public MNIST {
 public:
  explicit KMNIST(MNISTOptions options = {});
};

// EMNIST, one of its splits: "byclass", "bymerge", "balanced", "letters", "digits", "mnist"
// (files emnist-<split>-train-images-idx3-ubyte[.gz], ...). ValueError for another split.
// As torchvision, the images are returned as stored (EMNIST's files hold them transposed).
class EMNIST : public MNIST {
 public:
  explicit EMNIST(const std::string& split, MNISTOptions options = {});
  static const std::vector<std::string>& splits();
};

// The places searched for a data set kept in `folder` (see above), in order.
std::vector<std::string> default_data_dirs(const std::string& folder);

}  // namespace kiln::vision
