#include <kiln/vision/mnist.hpp>

#include "fixtures.hpp"

#include <kiln/error.hpp>
#include <kiln/ops.hpp>

#include <gtest/gtest.h>

#include <cmath>

namespace kiln::vision {
namespace {

using namespace testing;

class MnistTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = make_temp_dir("mnist"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string root() const { return dir_.string(); }
  std::filesystem::path dir_;
};

template <typename Fn>
std::string data_error(Fn&& fn) {
  try {
    fn();
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no DataError)";
}

TEST_F(MnistTest, ReadsRawFiles) {
  write_mnist(dir_, {3, 0, 9}, false);
  FashionMNIST train({.root = root()});
  ASSERT_EQ(train.size(), 3);
  EXPECT_EQ(train.num_classes(), 10);
  EXPECT_EQ(train.classes()[9], "Ankle boot");
  data::Example e = train.get(1);
  EXPECT_EQ(e.input.shape(), Shape({1, 28, 28}));
  EXPECT_EQ(e.input.dtype(), DType::Float32);
  EXPECT_EQ(e.target.dtype(), DType::Int64);
  EXPECT_EQ(e.target.item<int64_t>(), 0);
  auto pixels = e.input.to_vector<float>();
  EXPECT_FLOAT_EQ(pixels[0], 50.0f / 255.0f);
  EXPECT_FLOAT_EQ(pixels[10], 60.0f / 255.0f);
  EXPECT_THROW(train.get(3), IndexError);
  MNIST test({.root = root(), .train = false});
  EXPECT_EQ(test.size(), 3);
  EXPECT_NE(test.images_file().find("t10k-images-idx3-ubyte"), std::string::npos);
}

TEST_F(MnistTest, ReadsGzipAndNormalizes) {
  write_mnist(dir_, {1, 2, 3}, true);
  MNIST ds({.root = root(), .normalize = Normalize(0.5, 0.25)});
  EXPECT_NE(ds.images_file().find(".gz"), std::string::npos);
  auto pixels = ds.get(2).input.to_vector<float>();
  EXPECT_NEAR(pixels[0], (100.0 / 255.0 - 0.5) / 0.25, 1e-5);
  auto [x, y] = ds.to_tensors();
  EXPECT_EQ(x.shape(), Shape({3, 1, 28, 28}));
  EXPECT_EQ(y.shape(), Shape({3}));
  EXPECT_EQ(y.dtype(), DType::Int64);
  EXPECT_EQ(y.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_TRUE(allclose(x[2], ds.get(2).input, 1e-6, 1e-6));
  // The Normalize transform on tensors agrees with the fast path.
  MNIST plain({.root = root()});
  EXPECT_TRUE(allclose(Normalize(0.5, 0.25)(plain.get(2).input), ds.get(2).input, 1e-5, 1e-5));
}

TEST_F(MnistTest, TorchvisionLayout) {
  std::filesystem::create_directories(dir_ / "KMNIST" / "raw");
  write_mnist(dir_ / "KMNIST" / "raw", {0, 1, 2}, true);
  KMNIST ds({.root = root()});
  EXPECT_EQ(ds.size(), 3);
}

TEST_F(MnistTest, LabelOutOfRange) {
  write_mnist(dir_, {0, 10, 1}, false);
  std::string e = data_error([&] { MNIST({.root = root()}); });
  EXPECT_NE(e.find("train-labels-idx1-ubyte: byte 9"), std::string::npos) << e;
  EXPECT_NE(e.find("label 10"), std::string::npos) << e;
}

TEST_F(MnistTest, CountsDisagree) {
  write_raw(dir_ / "train-images-idx3-ubyte", idx_bytes({3, 28, 28}, images_data(3)));
  write_raw(dir_ / "train-labels-idx1-ubyte", idx_bytes({2}, {0, 1}));
  std::string e = data_error([&] { MNIST({.root = root()}); });
  EXPECT_NE(e.find("2 labels"), std::string::npos) << e;
  EXPECT_NE(e.find("3 images"), std::string::npos) << e;
}

TEST_F(MnistTest, TruncatedImages) {
  auto bytes = idx_bytes({3, 28, 28}, images_data(3));
  bytes.resize(bytes.size() - 1);
  write_gz(dir_ / "train-images-idx3-ubyte.gz", bytes);
  write_raw(dir_ / "train-labels-idx1-ubyte", idx_bytes({3}, {0, 1, 2}));
  std::string e = data_error([&] { FashionMNIST({.root = root()}); });
  EXPECT_NE(e.find("train-images-idx3-ubyte.gz: byte 2367"), std::string::npos) << e;
}

TEST_F(MnistTest, WrongImageSize) {
  write_raw(dir_ / "train-images-idx3-ubyte", idx_bytes({1, 2, 2}, {1, 2, 3, 4}));
  write_raw(dir_ / "train-labels-idx1-ubyte", idx_bytes({1}, {0}));
  EXPECT_NE(data_error([&] { MNIST({.root = root()}); }).find("28x28"), std::string::npos);
}

TEST_F(MnistTest, MissingSaysWhereItLookedAndWhatProvidesIt) {
  std::string e = data_error([&] { FashionMNIST({.root = root()}); });
  EXPECT_NE(e.find(root()), std::string::npos) << e;
  EXPECT_NE(e.find("train-images-idx3-ubyte"), std::string::npos) << e;
  EXPECT_NE(e.find("dataset-fashion-mnist"), std::string::npos) << e;
  std::string m = data_error([&] { MNIST({.root = root(), .train = false}); });
  EXPECT_NE(m.find("t10k-images-idx3-ubyte"), std::string::npos) << m;
  EXPECT_NE(m.find("https://"), std::string::npos) << m;
  // Images without their labels.
  write_raw(dir_ / "train-images-idx3-ubyte", idx_bytes({1, 28, 28}, images_data(1)));
  EXPECT_NE(data_error([&] { MNIST({.root = root()}); }).find("train-labels-idx1-ubyte"), std::string::npos);
}

TEST_F(MnistTest, DefaultPlacesIncludeDebians) {
  auto dirs = default_data_dirs("fashion-mnist");
  EXPECT_NE(std::find(dirs.begin(), dirs.end(), "/usr/share/datasets/fashion-mnist"), dirs.end());
}

TEST_F(MnistTest, EmnistSplits) {
  write_mnist(dir_, {1, 26, 5}, true, "emnist-letters-");
  EMNIST letters("letters", {.root = root()});
  EXPECT_EQ(letters.size(), 3);
  EXPECT_EQ(letters.num_classes(), 27);
  EXPECT_EQ(letters.classes()[1], "a");
  write_mnist(dir_, {0, 46, 5}, false, "emnist-balanced-");
  EXPECT_EQ(EMNIST("balanced", {.root = root()}).num_classes(), 47);
  write_mnist(dir_, {0, 47, 5}, false, "emnist-bymerge-");
  EXPECT_THROW(EMNIST("bymerge", {.root = root()}), DataError);
}

TEST_F(MnistTest, EmnistUnknownSplitAndMissingFiles) {
  EXPECT_THROW(EMNIST("nope", {.root = root()}), ValueError);
  std::string e = data_error([&] { EMNIST("digits", {.root = root()}); });
  EXPECT_NE(e.find("emnist-digits-train-images-idx3-ubyte"), std::string::npos) << e;
}

}  // namespace
}  // namespace kiln::vision
