// Decoding and encoding with OpenCV, make_grid against torchvision, save_image round trips.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <kiln/error.hpp>
#include <kiln/ops.hpp>
#include <kiln/vision/image_io.hpp>
#include <kiln/vision/transforms.hpp>

#include "../transforms/kfx.hpp"
#include "temp_dir.hpp"

namespace kiln {
namespace {

using test::pattern_image;
using test::TempDir;
using vision::ImageReadMode;
namespace T = vision::transforms;

bool same_u8(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.to_vector<uint8_t>() == b.to_vector<uint8_t>();
}

TEST(ImageIO, DecodesThePngFixtureLikePIL) {
  Tensor chw = vision::read_image(test::fixture_path("input.png"), ImageReadMode::RGB);
  Tensor hwc = test::read_kfx("input_u8");  // the same pixels, as written by PIL
  ASSERT_EQ(chw.shape(), Shape({3, 17, 23}));
  EXPECT_TRUE(same_u8(chw, hwc.permute({2, 0, 1}).contiguous()));
  EXPECT_MATCHES_TORCHVISION(T::ConvertImageDtype()(chw), "to_tensor");
}

TEST(ImageIO, PngRoundTripsExactlyInEveryChannelCount) {
  TempDir dir("io");
  Tensor rgb = pattern_image(7, 9, 11);
  vision::write_png(rgb, dir / "rgb.png");
  EXPECT_TRUE(same_u8(vision::read_image(dir / "rgb.png"), rgb));
  Tensor gray = rgb.narrow(0, 1, 1).contiguous();
  vision::write_png(gray, dir / "gray.png");
  EXPECT_EQ(vision::read_image(dir / "gray.png").shape(), Shape({1, 9, 11}));
  EXPECT_TRUE(same_u8(vision::read_image(dir / "gray.png"), gray));
  EXPECT_EQ(vision::read_image(dir / "gray.png", ImageReadMode::RGB).shape(), Shape({3, 9, 11}));
  Tensor rgba = cat({rgb, full({1, 9, 11}, 128, {.dtype = DType::UInt8})}, 0);
  vision::write_png(rgba, dir / "rgba.png");
  EXPECT_TRUE(same_u8(vision::read_image(dir / "rgba.png"), rgba));
  EXPECT_TRUE(same_u8(vision::read_image(dir / "rgba.png", ImageReadMode::RGB), rgb));
  // Gray mode: OpenCV's luma of the colour image.
  Tensor luma = vision::read_image(dir / "rgb.png", ImageReadMode::Gray);
  ASSERT_EQ(luma.shape(), Shape({1, 9, 11}));
  std::vector<uint8_t> c = rgb.to_vector<uint8_t>(), l = luma.to_vector<uint8_t>();
  for (size_t i = 0; i < l.size(); ++i)
    EXPECT_NEAR(l[i], 0.299 * c[i] + 0.587 * c[i + 99] + 0.114 * c[i + 198], 1.0) << i;
}

TEST(ImageIO, JpegDecodesCloseToTheOriginal) {
  Tensor flat = full({3, 16, 16}, 100, {.dtype = DType::UInt8});
  Tensor back = vision::decode_image(vision::encode_image(flat, ".jpg", 95), ImageReadMode::RGB);
  ASSERT_EQ(back.shape(), Shape({3, 16, 16}));
  for (uint8_t v : back.to_vector<uint8_t>()) EXPECT_NEAR(v, 100, 2);
}

TEST(ImageIO, CorruptAndTruncatedFilesNameTheFileAndOffset) {
  std::vector<uint8_t> png = vision::encode_image(pattern_image(1), ".png");
  std::vector<uint8_t> cut(png.begin(), png.end() - 12);  // no IEND
  try {
    vision::decode_image(cut, ImageReadMode::RGB, "cut.png");
    FAIL();
  } catch (const DataError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("cut.png"), std::string::npos) << msg;
    EXPECT_NE(msg.find("byte offset " + std::to_string(cut.size())), std::string::npos) << msg;
  }
  std::vector<uint8_t> jpg = vision::encode_image(pattern_image(1, 16, 16), ".jpg");
  jpg.resize(jpg.size() - 40);
  try {
    vision::decode_image(jpg, ImageReadMode::RGB, "cut.jpg");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated JPEG file 'cut.jpg'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(vision::decode_image({1, 2, 3, 4}, ImageReadMode::RGB, "noise.bin"), DataError);
  EXPECT_THROW(vision::decode_image({}, ImageReadMode::RGB, "empty.png"), DataError);
  EXPECT_THROW(vision::read_image("/nonexistent/kiln.png"), DataError);
  EXPECT_THROW(vision::encode_image(pattern_image(0), ".nosuchformat"), ValueError);
  EXPECT_THROW(vision::encode_image(full({2, 3, 3}, 1, {.dtype = DType::UInt8}), ".png"), ShapeError);
}

TEST(MakeGrid, MatchesTorchvision) {
  Tensor x = T::ToTensor()(test::read_kfx("input_u8"));
  std::vector<Tensor> crops;
  for (int64_t i = 0; i < 5; ++i) crops.push_back(x.slice(1, i, i + 6).slice(2, 2 * i, 2 * i + 7));
  Tensor batch = stack(crops);  // [5, 3, 6, 7]
  EXPECT_MATCHES_TORCHVISION(
      vision::make_grid(batch, {.nrow = 3, .padding = 1, .normalize = true, .pad_value = 0.25}), "make_grid");
  Tensor gray = batch.narrow(1, 0, 1) * 2.0 - 0.5;
  EXPECT_MATCHES_TORCHVISION(
      vision::make_grid(gray, {.nrow = 2, .padding = 2, .normalize = true, .scale_each = true}),
      "make_grid_gray");
}

TEST(MakeGrid, ShapeAndPlacement) {
  Tensor batch = stack({full({3, 4, 5}, 0.1), full({3, 4, 5}, 0.2), full({3, 4, 5}, 0.3)});
  Tensor grid = vision::make_grid(batch, {.nrow = 2, .padding = 2, .pad_value = 1.0});
  ASSERT_EQ(grid.shape(), Shape({3, 2 * (4 + 2) + 2, 2 * (5 + 2) + 2}));
  EXPECT_FLOAT_EQ(grid[0][2][2].item<float>(), 0.1f);  // image 0 at (2, 2)
  EXPECT_FLOAT_EQ(grid[1][2][9].item<float>(), 0.2f);  // image 1 at (2, 9)
  EXPECT_FLOAT_EQ(grid[2][8][2].item<float>(), 0.3f);  // image 2 at (8, 2)
  EXPECT_FLOAT_EQ(grid[0][8][9].item<float>(), 1.0f);  // the empty fourth cell is padding
  EXPECT_FLOAT_EQ(grid[0][0][0].item<float>(), 1.0f);
  // One image comes back as it is; a gray batch becomes three channels.
  EXPECT_EQ(vision::make_grid(full({1, 3, 4, 5}, 0.5)).shape(), Shape({3, 4, 5}));
  EXPECT_EQ(vision::make_grid(full({2, 1, 4, 5}, 0.5), {.padding = 0}).shape(), Shape({3, 4, 10}));
  EXPECT_THROW(vision::make_grid(full({2, 2, 2, 2, 2}, 0.5)), ShapeError);
}

TEST(SaveImage, RoundTripsThroughPng) {
  TempDir dir("save");
  std::vector<float> v(2 * 3 * 4 * 5);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 17) / 16.0f;
  Tensor batch = from_vector(v, {2, 3, 4, 5});
  vision::save_image(batch, dir / "grid.png", {.padding = 1});
  Tensor back = vision::read_image(dir / "grid.png");
  Tensor grid = vision::make_grid(batch, {.padding = 1});
  ASSERT_EQ(back.shape(), grid.shape());
  std::vector<float> g = grid.to_vector<float>();
  std::vector<uint8_t> b = back.to_vector<uint8_t>();
  for (size_t i = 0; i < g.size(); ++i)
    ASSERT_EQ(b[i], static_cast<uint8_t>(std::clamp(g[i] * 255.0f + 0.5f, 0.0f, 255.0f))) << i;
  EXPECT_FALSE(std::filesystem::exists(dir / "grid.png.tmp"));
}

}  // namespace
}  // namespace kiln
