#include <kiln/vision/mnist.hpp>

#include "data_files.hpp"

#include <kiln/error.hpp>
#include <kiln/ops.hpp>
#include <kiln/vision/idx.hpp>

#include <algorithm>

namespace kiln::vision {

namespace {

std::vector<std::string> digits() { return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}; }

std::string download_hint(const std::string& url, const std::string& prefix) {
  return "Download " + prefix + "train-images-idx3-ubyte.gz, " + prefix + "train-labels-idx1-ubyte.gz, " + prefix +
         "t10k-images-idx3-ubyte.gz and " + prefix + "t10k-labels-idx1-ubyte.gz from " + url +
         " into one folder and pass it as the root (kiln train --data-dir).";
}

MNISTFamily mnist_family() {
  return {"MNIST", "mnist", "", digits(),
          "No Debian package ships MNIST. " + download_hint("https://ossci-datasets.s3.amazonaws.com/mnist/", "")};
}

MNISTFamily fashion_family() {
  return {"FashionMNIST", "fashion-mnist", "",
          {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"},
          "It is provided by the Debian package dataset-fashion-mnist (apt install dataset-fashion-mnist), or " +
              download_hint("https://github.com/zalandoresearch/fashion-mnist (data/fashion)", "")};
}

MNISTFamily kmnist_family() {
  return {"KMNIST", "kmnist", "", {"o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"},
          "No Debian package ships KMNIST. " + download_hint("http://codh.rois.ac.jp/kmnist/dataset/kmnist/", "")};
}

std::vector<std::string> emnist_classes(const std::string& split) {
  std::string d = "0123456789", up = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", low = "abcdefghijklmnopqrstuvwxyz";
  // bymerge/balanced merge the lowercase letters that look like their capitals (torchvision's list).
  std::string merged_low = "abdefghnqrt";
  std::string chars;
  if (split == "digits" || split == "mnist") chars = d;
  else if (split == "byclass") chars = d + up + low;
  else if (split == "bymerge" || split == "balanced") chars = d + up + merged_low;
  std::vector<std::string> out;
  if (split == "letters") {
    out.push_back("N/A");  // EMNIST letters are labelled 1..26
    for (char c : low) out.push_back(std::string(1, c));
    return out;
  }
  for (char c : chars) out.push_back(std::string(1, c));
  return out;
}

MNISTFamily emnist_family(const std::string& split) {
  const auto& splits = EMNIST::splits();
  KILN_CHECK(std::find(splits.begin(), splits.end(), split) != splits.end(), ValueError, "EMNIST: unknown split '",
             split, "' (expected byclass, bymerge, balanced, letters, digits or mnist)");
  return {"EMNIST", "emnist", "emnist-" + split + "-", emnist_classes(split),
          "No Debian package ships EMNIST. Download gzip.zip from "
          "https://www.nist.gov/itl/products-and-services/emnist-dataset, unzip it and pass the folder holding "
          "emnist-" + split + "-*-ubyte.gz as the root (kiln train --data-dir)."};
}

}  // namespace

const std::vector<std::string>& EMNIST::splits() {
  static const std::vector<std::string> names{"byclass", "bymerge", "balanced", "letters", "digits", "mnist"};
  return names;
}

MNIST::MNIST(MNISTOptions options) : MNIST(mnist_family(), std::move(options)) {}
FashionMNIST::FashionMNIST(MNISTOptions options) : MNIST(fashion_family(), std::move(options)) {}
KMNIST::KMNIST(MNISTOptions options) : MNIST(kmnist_family(), std::move(options)) {}
EMNIST::EMNIST(const std::string& split, MNISTOptions options) : MNIST(emnist_family(split), std::move(options)) {}

MNIST::MNIST(MNISTFamily family, MNISTOptions options) : family_(std::move(family)), options_(std::move(options)) {
  load();
}

void MNIST::load() {
  KILN_CHECK(!options_.normalize || options_.normalize->mean.size() == 1, ValueError, family_.name,
             ": the images have 1 channel but Normalize has ", options_.normalize ? options_.normalize->mean.size() : 0,
             " means");
  std::string split = options_.train ? "train" : "t10k";
  std::string images_name = family_.file_prefix + split + "-images-idx3-ubyte";
  std::string labels_name = family_.file_prefix + split + "-labels-idx1-ubyte";
  std::vector<std::string> dirs = detail::candidate_dirs(options_.root, family_.folder, {family_.name});
  std::string what = family_.name + (options_.train ? " training set" : " test set");
  images_file_ = detail::find_file(dirs, images_name);
  if (images_file_.empty()) detail::throw_not_found(what, images_name, dirs, family_.provider);
  // The labels must sit beside the images, so the two files always come from the same copy.
  std::string dir = images_file_.substr(0, images_file_.rfind('/'));
  labels_file_ = detail::find_file({dir}, labels_name);
  if (labels_file_.empty()) detail::throw_not_found(what + " labels", labels_name, {dir}, family_.provider);

  IdxArray images = read_idx(images_file_, 3);
  KILN_CHECK(images.dims[1] == kRows && images.dims[2] == kCols, DataError, images_file_, ": byte 8: expected ",
             kRows, "x", kCols, " images, the header says ", images.dims[1], "x", images.dims[2]);
  IdxArray labels = read_idx(labels_file_, 1);
  KILN_CHECK(labels.dims[0] == images.dims[0], DataError, labels_file_, ": byte 4: ", labels.dims[0],
             " labels but ", images_file_, " holds ", images.dims[0], " images");
  auto classes = static_cast<uint8_t>(std::min<int64_t>(num_classes(), 255));
  for (size_t i = 0; i < labels.data.size(); ++i)
    KILN_CHECK(labels.data[i] < classes, DataError, labels_file_, ": byte ", 8 + i, ": label ", int(labels.data[i]),
               " of example ", i, " is out of range [0, ", num_classes(), ") for ", family_.name);
  count_ = images.dims[0];
  images_ = std::move(images.data);
  labels_ = std::move(labels.data);
}

namespace {
// Scales bytes to [0, 1] and normalizes, into dst.
void to_float(const uint8_t* src, float* dst, size_t n, const std::optional<Normalize>& normalize) {
  float scale = 1.0f / 255.0f, shift = 0.0f;
  if (normalize) {
    scale = static_cast<float>(1.0 / (255.0 * normalize->std_of(0)));
    shift = static_cast<float>(-normalize->mean_of(0) / normalize->std_of(0));
  }
  for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]) * scale + shift;
}
}  // namespace

data::Example MNIST::get(int64_t index) const {
  KILN_CHECK(index >= 0 && index < count_, IndexError, family_.name, ": index ", index, " out of range for ", count_,
             " examples");
  constexpr size_t pixels = kRows * kCols;
  std::vector<float> values(pixels);
  to_float(images_.data() + static_cast<size_t>(index) * pixels, values.data(), pixels, options_.normalize);
  return {from_vector(values, {1, kRows, kCols}),
          scalar_tensor(labels_[static_cast<size_t>(index)], {.dtype = DType::Int64})};
}

TensorPair MNIST::to_tensors(const std::optional<Device>& device) const {
  std::vector<float> values(images_.size());
  to_float(images_.data(), values.data(), images_.size(), options_.normalize);
  std::vector<int64_t> targets(labels_.begin(), labels_.end());
  return {from_vector(values, {count_, 1, kRows, kCols}, device), from_vector(targets, {count_}, device)};
}

}  // namespace kiln::vision
