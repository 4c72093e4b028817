// Truncated, corrupted and hostile .kiln files: each raises DataError "<file>: byte <offset>:
// <reason>" with the expected offset and reason, and nothing crashes.
#include <kiln/nn/layers.hpp>
#include <kiln/random.hpp>
#include <kiln/serialize.hpp>

#include <gtest/gtest.h>

#include "serialize_test_util.hpp"

namespace kiln {
namespace {

using test::Bytes;

class Hostile : public ::testing::Test {
 protected:
  void SetUp() override {
    manual_seed(3);
    nn::Sequential net{nn::Linear(3, 2), nn::ReLU(), nn::Linear(2, 2)};
    save(*net, dir_.file("good.kiln"));
    good_ = test::read_bytes(dir_.file("good.kiln"));
    parts_ = test::split(good_);
  }

  // Loads `bytes` and checks the DataError's offset and reason.
  void expect_error(const Bytes& bytes, uint64_t offset, const std::string& reason) {
    std::string path = dir_.file("bad.kiln");
    test::write_bytes(path, bytes);
    std::string prefix = path + ": byte " + std::to_string(offset) + ": ";
    for (int which = 0; which < 2; ++which) {
      try {
        if (which == 0) load(path);
        else load_checkpoint(path);
        ADD_FAILURE() << "expected DataError containing '" << reason << "'";
      } catch (const DataError& e) {
        std::string msg = e.what();
        EXPECT_EQ(msg.rfind(prefix, 0), 0u) << "expected prefix '" << prefix << "', got: " << msg;
        EXPECT_NE(msg.find(reason), std::string::npos) << "expected '" << reason << "' in: " << msg;
      }
    }
  }
  Bytes with_header_u64(size_t at, uint64_t v) const {
    Bytes b = good_;
    test::put_u64(b, at, v);
    test::fix_header_crc(b);
    return b;
  }
  uint64_t data_offset() const { return test::data_offset_of(good_); }

  test::TempDir dir_;
  Bytes good_;
  test::KilnParts parts_;
};

TEST_F(Hostile, TheGoodFileLoads) { EXPECT_NO_THROW(load(dir_.file("good.kiln"))); }

TEST_F(Hostile, MissingFile) { EXPECT_THROW(load(dir_.file("nope.kiln")), DataError); }

TEST_F(Hostile, WrongMagic) {
  Bytes b = good_;
  b[0] = 'X';
  expect_error(b, 0, "bad magic");
  expect_error(b, 0, "not a .kiln file");
  Bytes crlf = good_;
  crlf[5] = '\n';  // \r lost in a text-mode transfer
  expect_error(crlf, 0, "altered in transfer");
}

TEST_F(Hostile, UnsupportedVersion) {
  Bytes b = good_;
  test::put_u32(b, 8, 2);
  test::fix_header_crc(b);
  expect_error(b, 8, "format version 2 is newer than this Kiln reads (up to 1)");
  test::put_u32(b, 8, 0);
  test::fix_header_crc(b);
  expect_error(b, 8, "format version 0 is invalid");
}

TEST_F(Hostile, HeaderChecksumAndFlags) {
  Bytes b = good_;
  b[20] ^= 1;  // json_offset, without fixing the checksum
  expect_error(b, 60, "header checksum mismatch");
  Bytes f = good_;
  test::put_u32(f, 12, 0x80);
  test::fix_header_crc(f);
  expect_error(f, 12, "unknown flags");
}

TEST_F(Hostile, Truncated) {
  expect_error(Bytes(good_.begin(), good_.begin() + 10), 10, "shorter than the 64-byte .kiln header");
  expect_error(Bytes(), 0, "shorter than the 64-byte .kiln header");
  expect_error(Bytes(good_.begin(), good_.end() - 100), 40, "extends past the end of the file");
  expect_error(Bytes(good_.begin(), good_.begin() + 100), 24, "extends past the end of the file");
}

TEST_F(Hostile, LengthPastTheEnd) {
  expect_error(with_header_u64(24, 1ull << 62), 24, "JSON section [64, ");
  expect_error(with_header_u64(24, ~0ull), 24, "extends past the end of the file");
  expect_error(with_header_u64(40, ~0ull - 5), 40, "extends past the end of the file");
  expect_error(with_header_u64(16, 1ull << 40), 16, "past the end of the file");
}

TEST_F(Hostile, OffsetOverlappingTheHeaderOrJson) {
  expect_error(with_header_u64(16, 32), 16, "overlaps the 64-byte header");
  expect_error(with_header_u64(32, 64), 32, "overlaps the JSON section");
  expect_error(with_header_u64(32, data_offset() + 1), 32, "not a multiple of 64");
}

TEST_F(Hostile, TrailingBytes) {
  Bytes b = good_;
  b.push_back(0);
  expect_error(b, good_.size(), "1 unexpected bytes after the data section");
}

TEST_F(Hostile, ChecksumMismatch) {
  Bytes b = good_;
  b[data_offset() + 5] ^= 0x40;
  expect_error(b, data_offset(), "data section checksum mismatch");
  Bytes j = good_;
  j[70] ^= 0x01;
  expect_error(j, 64, "JSON section checksum mismatch");
}

TEST_F(Hostile, BadJson) {
  std::string text = "{\"architecture\": {\"type\": \"Sequential\",, }";
  expect_error(test::assemble_raw(1, 0, text, {}), 64 + text.find(",,") + 1, "bad JSON");
  expect_error(test::assemble_raw(1, 0, "[1, 2]", {}), 64, "the JSON section is not an object");
  expect_error(test::assemble_raw(1, 0, "{\"a\": \"\xff\"}", {}), 64 + 7, "bad JSON");  // not UTF-8
}

TEST_F(Hostile, NotAnObjectOrMissingParts) {
  test::KilnParts p = parts_;
  p.json.erase("architecture");
  expect_error(test::assemble(p), 64, "missing \"architecture\"");
  p = parts_;
  p.json.erase("tensors");
  expect_error(test::assemble(p), 64, "missing \"tensors\"");
}

TEST_F(Hostile, UnknownDtype) {
  test::KilnParts p = parts_;
  p.json["tensors"]["0.weight"]["dtype"] = "float16";
  Bytes b = test::assemble(p);
  std::string text(b.begin() + 64, b.begin() + 64 + test::get_u64(b, 24));
  uint64_t at = 64 + text.find("\"0.weight\"", text.find("\"tensors\""));
  expect_error(b, at, "tensor '0.weight': unknown dtype \"float16\"");
}

TEST_F(Hostile, LengthDoesNotMatchShape) {
  test::KilnParts p = parts_;
  p.json["tensors"]["0.weight"]["length"] = 28;
  Bytes b = test::assemble(p);
  std::string text(b.begin() + 64, b.begin() + 64 + test::get_u64(b, 24));
  uint64_t at = 64 + text.find("\"0.weight\"", text.find("\"tensors\""));
  expect_error(b, at, "tensor '0.weight': float32 [2, 3] needs 24 bytes but its length is 28");
  p = parts_;
  p.json["tensors"]["0.weight"]["shape"] = {2, -3};
  expect_error(test::assemble(p), at, "non-negative integers");
  p = parts_;
  p.json["tensors"]["0.weight"]["shape"] = {1ull << 40, 1ull << 40};
  expect_error(test::assemble(p), at, "is too large");
}

TEST_F(Hostile, TensorPastTheEndOfTheData) {
  test::KilnParts p = parts_;
  p.json["tensors"]["2.weight"]["offset"] = 1ull << 50;
  Bytes b = test::assemble(p);
  std::string text(b.begin() + 64, b.begin() + 64 + test::get_u64(b, 24));
  uint64_t at = 64 + text.find("\"2.weight\"", text.find("\"tensors\""));
  expect_error(b, at, "extend past its end");
}

TEST_F(Hostile, OverlappingTensors) {
  test::KilnParts p = parts_;
  uint64_t first = p.json["tensors"]["0.weight"]["offset"];
  p.json["tensors"]["2.weight"]["offset"] = first;  // 16 bytes inside 0.weight's 24
  Bytes b = test::assemble(p);
  expect_error(b, test::data_offset_of(b) + first, "overlap");
}

TEST_F(Hostile, UnknownLayerNamesThePlugin) {
  test::KilnParts p = parts_;
  auto& child = p.json["architecture"]["children"][1];
  child["type"] = "MyBlock";
  child["provider"] = "libmyblocks.so";
  Bytes b = test::assemble(p);
  std::string text(b.begin() + 64, b.begin() + 64 + test::get_u64(b, 24));
  size_t at = 64 + text.find("\"type\":\"MyBlock\"");
  expect_error(b, at, "layer '1' has type 'MyBlock' (version 1), which is not registered");
  expect_error(b, at, "load the layer plugin that provides it ('libmyblocks.so'");
}

TEST_F(Hostile, LayerVersionNewerThanRegistered) {
  test::KilnParts p = parts_;
  p.json["architecture"]["children"][2]["version"] = 7;
  Bytes b = test::assemble(p);
  std::string text(b.begin() + 64, b.begin() + 64 + test::get_u64(b, 24));
  size_t first = text.find("\"type\":\"Linear\"");
  size_t at = 64 + text.find("\"type\":\"Linear\"", first + 1);
  expect_error(b, at, "layer '2' (Linear) was saved with version 7 of the layer, but the registered Linear is version 1");
}

TEST_F(Hostile, HostileConfigs) {
  test::KilnParts p = parts_;
  // 4 TB of weights asked for by a 1 KB file: refused before allocating.
  p.json["architecture"]["children"][0]["config"]["in_features"] = 1000000;
  p.json["architecture"]["children"][0]["config"]["out_features"] = 1000000;
  Bytes b = test::assemble(p);
  std::string text(b.begin() + 64, b.begin() + 64 + test::get_u64(b, 24));
  size_t at = 64 + text.find("\"type\":\"Linear\"");
  expect_error(b, at, "layer '0' (Linear) cannot be built from its config");
  p = parts_;
  p.json["architecture"]["children"][0]["config"]["in_features"] = "three";
  expect_error(test::assemble(p), at, "cannot be built from its config");
  p = parts_;
  p.json["architecture"]["children"][0]["config"]["in_features"] = 1e300;
  expect_error(test::assemble(p), at, "config holds a number out of range");
  p = parts_;
  p.json["architecture"]["children"][0]["config"]["in_features"] = 4;  // weight [2, 4] vs [2, 3] in the file
  Bytes s = test::assemble(p);
  std::string st(s.begin() + 64, s.begin() + 64 + test::get_u64(s, 24));
  expect_error(s, 64 + st.find("\"0.weight\"", st.find("\"tensors\"")), "is [2, 3] in the file, but the layer built");
}

TEST_F(Hostile, TensorsThatDoNotMatchTheModel) {
  test::KilnParts p = parts_;
  p.json["tensors"]["extra"] = p.json["tensors"]["0.bias"];
  p.json["tensors"].erase("0.bias");
  Bytes b = test::assemble(p);
  std::string text(b.begin() + 64, b.begin() + 64 + test::get_u64(b, 24));
  expect_error(b, 64 + text.find("\"extra\""), "tensor 'extra' is in the file, but the model rebuilt");
}

TEST_F(Hostile, DeepNesting) {
  test::KilnParts p = parts_;
  nlohmann::ordered_json deep = nlohmann::ordered_json::array();
  for (int i = 0; i < 500; ++i) deep = nlohmann::ordered_json::array({deep});
  p.json["metadata"] = deep;
  expect_error(test::assemble(p), 64, "nested deeper than 128");
}

TEST_F(Hostile, BadOptimizerKeys) {
  test::KilnParts p = parts_;
  p.flags = 1;
  p.json["optimizer"] = {{"name", "SGD"}, {"tensors", {{"group.x.lr", p.json["tensors"]["0.bias"]}}}};
  p.json["tensors"].erase("0.bias");
  p.json["architecture"]["children"][0]["config"]["bias"] = false;
  Bytes b = test::assemble(p);
  std::string path = dir_.file("opt.kiln");
  test::write_bytes(path, b);
  EXPECT_NO_THROW(load(path));  // load() ignores the optimizer state
  try {
    load_checkpoint(path);
    ADD_FAILURE() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("optimizer state key 'group.x.lr' is not of the form"), std::string::npos)
        << e.what();
  }
}

TEST_F(Hostile, BoolBytesOtherThanZeroOrOne) {
  test::KilnParts p = parts_;
  uint64_t at = p.data.size();
  p.data.resize(at + 64, 0);
  p.data[at + 2] = 7;
  p.flags = 1;
  p.json["optimizer"] = {
      {"name", "SGD"},
      {"tensors", {{"0.0.mask", {{"dtype", "bool"}, {"shape", {3}}, {"offset", at}, {"length", 3}}}}}};
  Bytes b = test::assemble(p);
  expect_error(b, test::data_offset_of(b) + at + 2, "tensor '0.0.mask' (bool) holds the byte 7 (expected 0 or 1)");
}

}  // namespace

}  // namespace kiln
