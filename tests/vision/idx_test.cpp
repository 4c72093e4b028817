#include <kiln/vision/idx.hpp>

#include "fixtures.hpp"

#include <kiln/error.hpp>

#include <gtest/gtest.h>

namespace kiln::vision {
namespace {

using namespace testing;

std::string error_of(const std::string& path, int rank = -1) {
  try {
    read_idx(path, rank);
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no error)";
}

class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = make_temp_dir("idx"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(IdxTest, ReadsRawAndGzip) {
  std::vector<uint8_t> data{1, 2, 3, 4, 5, 6};
  write_raw(path("a.idx"), idx_bytes({2, 3}, data));
  write_gz(path("a.idx.gz"), idx_bytes({2, 3}, data));
  for (auto name : {"a.idx", "a.idx.gz"}) {
    IdxArray a = read_idx(path(name), 2);
    EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(a.data, data);
  }
}

TEST_F(IdxTest, WrongMagicNamesFileAndOffset) {
  auto bytes = idx_bytes({3}, {0, 1, 2});
  bytes[1] = 7;
  write_raw(path("bad.idx"), bytes);
  std::string e = error_of(path("bad.idx"));
  EXPECT_NE(e.find("bad.idx: byte 0"), std::string::npos) << e;
  EXPECT_NE(e.find("magic"), std::string::npos) << e;
  bytes[1] = 0;
  bytes[2] = 0x0D;  // float: not supported
  write_raw(path("float.idx"), bytes);
  EXPECT_NE(error_of(path("float.idx")).find("byte 2"), std::string::npos);
}

TEST_F(IdxTest, RankMismatch) {
  write_raw(path("r.idx"), idx_bytes({3}, {0, 1, 2}));
  std::string e = error_of(path("r.idx"), 3);
  EXPECT_NE(e.find("byte 3"), std::string::npos) << e;
  EXPECT_NE(e.find("rank 3"), std::string::npos) << e;
}

TEST_F(IdxTest, TruncatedDataAndHeader) {
  auto bytes = idx_bytes({3, 28, 28}, images_data(3));
  bytes.resize(bytes.size() - 100);
  write_raw(path("short.idx"), bytes);
  write_gz(path("short.idx.gz"), bytes);
  std::string e = error_of(path("short.idx"));
  EXPECT_NE(e.find("short.idx: byte " + std::to_string(bytes.size())), std::string::npos) << e;
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  std::string g = error_of(path("short.idx.gz"));
  EXPECT_NE(g.find("decompressed"), std::string::npos) << g;
  EXPECT_NE(g.find("truncated"), std::string::npos) << g;

  write_raw(path("header.idx"), {0, 0, 8, 3, 0, 0});
  EXPECT_NE(error_of(path("header.idx")).find("truncated IDX header"), std::string::npos);
  write_raw(path("tiny.idx"), {0, 0});
  EXPECT_NE(error_of(path("tiny.idx")).find("byte 2"), std::string::npos);
}

TEST_F(IdxTest, TrailingBytes) {
  auto bytes = idx_bytes({2}, {1, 2});
  bytes.push_back(9);
  write_raw(path("long.idx"), bytes);
  std::string e = error_of(path("long.idx"));
  EXPECT_NE(e.find("byte 10"), std::string::npos) << e;
}

TEST_F(IdxTest, TruncatedGzipStream) {
  // A gzip stream cut in the middle: zlib reports it, the message names the file.
  std::vector<uint8_t> big = idx_bytes({3, 28, 28}, images_data(3));
  write_gz(path("cut.gz"), big);
  auto size = std::filesystem::file_size(path("cut.gz"));
  std::filesystem::resize_file(path("cut.gz"), size / 2);
  std::string e = error_of(path("cut.gz"));
  EXPECT_NE(e.find("cut.gz"), std::string::npos) << e;
  EXPECT_NE(e.find("byte"), std::string::npos) << e;
}

TEST_F(IdxTest, MissingFile) {
  std::string e = error_of(path("nope.idx"));
  EXPECT_NE(e.find("nope.idx"), std::string::npos) << e;
  EXPECT_NE(e.find("cannot open"), std::string::npos) << e;
}

}  // namespace
}  // namespace kiln::vision
