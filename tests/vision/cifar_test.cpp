#include <kiln/vision/cifar.hpp>

#include "fixtures.hpp"

#include <kiln/error.hpp>
#include <kiln/ops.hpp>

#include <gtest/gtest.h>

namespace kiln::vision {
namespace {

using namespace testing;

// n CIFAR records with `label_bytes` label bytes; pixel k of record r = (r + k) % 256.
std::vector<uint8_t> records(const std::vector<std::vector<uint8_t>>& labels) {
  std::vector<uint8_t> out;
  for (size_t r = 0; r < labels.size(); ++r) {
    out.insert(out.end(), labels[r].begin(), labels[r].end());
    for (size_t k = 0; k < 3072; ++k) out.push_back(static_cast<uint8_t>((r + k) % 256));
  }
  return out;
}

class CifarTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("cifar");
    std::filesystem::create_directories(dir_ / "cifar-10-batches-bin");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path batches() const { return dir_ / "cifar-10-batches-bin"; }
  void write_cifar10(const std::vector<uint8_t>& test_bytes) {
    for (int b = 1; b <= 5; ++b)
      write_raw(batches() / ("data_batch_" + std::to_string(b) + ".bin"), records({{uint8_t(b)}, {uint8_t(b + 1)}}));
    write_raw(batches() / "test_batch.bin", test_bytes);
  }
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

TEST_F(CifarTest, ReadsBatches) {
  write_cifar10(records({{7}, {3}, {0}}));
  CIFAR10 train({.root = dir_.string()});
  ASSERT_EQ(train.size(), 10);
  EXPECT_EQ(train.get(0).target.item<int64_t>(), 1);
  EXPECT_EQ(train.get(9).target.item<int64_t>(), 6);
  CIFAR10 test({.root = dir_.string(), .train = false, .normalize = Normalize({0.5, 0.5, 0.5}, {0.5, 0.5, 0.5})});
  ASSERT_EQ(test.size(), 3);
  data::Example e = test.get(1);
  EXPECT_EQ(e.input.shape(), Shape({3, 32, 32}));
  EXPECT_EQ(e.target.item<int64_t>(), 3);
  auto px = e.input.to_vector<float>();
  EXPECT_NEAR(px[0], (1.0 / 255 - 0.5) / 0.5, 1e-6);
  EXPECT_NEAR(px[1024], (1025 % 256 / 255.0 - 0.5) / 0.5, 1e-6);  // green plane
  auto [x, y] = test.to_tensors();
  EXPECT_EQ(x.shape(), Shape({3, 3, 32, 32}));
  EXPECT_EQ(y.to_vector<int64_t>(), (std::vector<int64_t>{7, 3, 0}));
}

TEST_F(CifarTest, TruncatedRecord) {
  auto bytes = records({{1}, {2}});
  bytes.resize(bytes.size() - 10);
  write_cifar10(bytes);
  std::string e = data_error([&] { CIFAR10({.root = dir_.string(), .train = false}); });
  EXPECT_NE(e.find("test_batch.bin: byte 3073"), std::string::npos) << e;
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
}

TEST_F(CifarTest, LabelOutOfRange) {
  write_cifar10(records({{1}, {10}}));
  std::string e = data_error([&] { CIFAR10({.root = dir_.string(), .train = false}); });
  EXPECT_NE(e.find("test_batch.bin: byte 3073"), std::string::npos) << e;
  EXPECT_NE(e.find("label 10"), std::string::npos) << e;
}

TEST_F(CifarTest, Cifar100FineAndCoarse) {
  std::filesystem::create_directories(dir_ / "cifar-100-binary");
  write_raw(dir_ / "cifar-100-binary" / "test.bin", records({{19, 99}, {0, 5}}));
  CIFAR100 fine({.root = dir_.string(), .train = false});
  EXPECT_EQ(fine.num_classes(), 100);
  EXPECT_EQ(fine.get(0).target.item<int64_t>(), 99);
  CIFAR100 coarse({.root = dir_.string(), .train = false, .coarse_labels = true});
  EXPECT_EQ(coarse.num_classes(), 20);
  EXPECT_EQ(coarse.get(0).target.item<int64_t>(), 19);
  write_raw(dir_ / "cifar-100-binary" / "test.bin", records({{20, 1}}));
  EXPECT_NE(data_error([&] { CIFAR100({.root = dir_.string(), .train = false, .coarse_labels = true}); })
                .find("test.bin: byte 0"),
            std::string::npos);
}

TEST_F(CifarTest, Missing) {
  std::string e = data_error([&] { CIFAR10({.root = (dir_ / "elsewhere").string()}); });
  EXPECT_NE(e.find("data_batch_1.bin"), std::string::npos) << e;
  EXPECT_NE(e.find("elsewhere"), std::string::npos) << e;
  EXPECT_NE(e.find("cifar-10-binary.tar.gz"), std::string::npos) << e;
}

}  // namespace
}  // namespace kiln::vision
