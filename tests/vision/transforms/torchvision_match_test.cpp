// Kiln's deterministic transforms against torchvision 0.15's outputs on the same 17x23 image
// (fixtures from scripts/make_vision_fixtures.py), within 1/255.
#include <gtest/gtest.h>

#include <kiln/ops.hpp>
#include <kiln/vision/transforms.hpp>

#include "kfx.hpp"

namespace kiln {
namespace {

namespace T = vision::transforms;
namespace F = vision::transforms::functional;
using T::InterpolationMode;
using T::PaddingMode;

class TorchvisionMatch : public ::testing::Test {
 protected:
  void SetUp() override { x = T::ToTensor()(test::read_kfx("input_u8")); }
  Tensor x;  // float32 [3, 17, 23]
};

TEST_F(TorchvisionMatch, ToTensorAndNormalize) {
  EXPECT_EQ(x.shape(), Shape({3, 17, 23}));
  EXPECT_MATCHES_TORCHVISION(x, "to_tensor");
  EXPECT_MATCHES_TORCHVISION(T::Normalize({0.5, 0.4, 0.3}, {0.2, 0.25, 0.3})(x), "normalize");
}

TEST_F(TorchvisionMatch, ResizeBilinear) {
  EXPECT_MATCHES_TORCHVISION(T::Resize(10)(x), "resize_bilinear_10");  // shorter side 10: [3, 10, 13]
  EXPECT_MATCHES_TORCHVISION(T::Resize(T::Size(29, 37))(x), "resize_bilinear_29x37");
  EXPECT_MATCHES_TORCHVISION(T::Resize(T::Size(8, 30))(x), "resize_bilinear_8x30");
}

TEST_F(TorchvisionMatch, ResizeNearest) {
  T::ResizeOptions nearest{.interpolation = InterpolationMode::Nearest};
  EXPECT_MATCHES_TORCHVISION(T::Resize(10, nearest)(x), "resize_nearest_10");
  EXPECT_MATCHES_TORCHVISION(T::Resize(T::Size(29, 37), nearest)(x), "resize_nearest_29x37");
  EXPECT_MATCHES_TORCHVISION(T::Resize(T::Size(34, 46), nearest)(x), "resize_nearest_34x46");
}

TEST_F(TorchvisionMatch, CenterCrop) {
  EXPECT_MATCHES_TORCHVISION(T::CenterCrop(T::Size(8, 12))(x), "center_crop_8x12");
  EXPECT_MATCHES_TORCHVISION(T::CenterCrop(10)(x), "center_crop_10");  // offsets 3.5 and 6.5 round to even
  EXPECT_MATCHES_TORCHVISION(T::CenterCrop(T::Size(20, 26))(x), "center_crop_20x26");  // padded first
}

TEST_F(TorchvisionMatch, Pad) {
  EXPECT_MATCHES_TORCHVISION(T::Pad(T::Padding(1, 2, 3, 4), {.fill = 0.5})(x), "pad_constant");
  EXPECT_MATCHES_TORCHVISION(T::Pad(T::Padding(3, 2, 4, 5), {.padding_mode = PaddingMode::Reflect})(x),
                             "pad_reflect");
  EXPECT_MATCHES_TORCHVISION(T::Pad(3, {.padding_mode = PaddingMode::Edge})(x), "pad_edge");
  EXPECT_MATCHES_TORCHVISION(T::Pad(T::Padding(2, 3), {.padding_mode = PaddingMode::Symmetric})(x),
                             "pad_symmetric");
}

TEST_F(TorchvisionMatch, GrayscaleAndFlips) {
  EXPECT_MATCHES_TORCHVISION(T::Grayscale(1)(x), "grayscale_1");
  EXPECT_MATCHES_TORCHVISION(T::Grayscale(3)(x), "grayscale_3");
  EXPECT_MATCHES_TORCHVISION(F::hflip(x), "hflip");
  EXPECT_MATCHES_TORCHVISION(F::vflip(x), "vflip");
  EXPECT_MATCHES_TORCHVISION(T::RandomHorizontalFlip(1.0)(x), "hflip");
  EXPECT_MATCHES_TORCHVISION(T::RandomVerticalFlip(1.0)(x), "vflip");
}

TEST_F(TorchvisionMatch, Rotate) {
  EXPECT_MATCHES_TORCHVISION(F::rotate(x, 30.0, InterpolationMode::Bilinear), "rotate_bilinear_30");
  EXPECT_MATCHES_TORCHVISION(F::rotate(x, 30.0, InterpolationMode::Nearest, false, {}, {0.2, 0.4, 0.6}),
                             "rotate_nearest_30_fill");
  EXPECT_MATCHES_TORCHVISION(F::rotate(x, 37.0, InterpolationMode::Bilinear, true, {}, {1.0}),
                             "rotate_bilinear_37_expand_fill");
  EXPECT_MATCHES_TORCHVISION(
      F::rotate(x, -20.0, InterpolationMode::Bilinear, false, std::array<double, 2>{5, 4}),
      "rotate_bilinear_m20_center");
}

TEST_F(TorchvisionMatch, ColorAdjustments) {
  EXPECT_MATCHES_TORCHVISION(F::adjust_brightness(x, 1.3), "adjust_brightness_1.3");
  EXPECT_MATCHES_TORCHVISION(F::adjust_contrast(x, 0.6), "adjust_contrast_0.6");
  EXPECT_MATCHES_TORCHVISION(F::adjust_saturation(x, 1.7), "adjust_saturation_1.7");
  EXPECT_MATCHES_TORCHVISION(F::adjust_hue(x, 0.23), "adjust_hue_0.23");
  EXPECT_MATCHES_TORCHVISION(F::adjust_hue(x, -0.4), "adjust_hue_m0.4");
}

TEST_F(TorchvisionMatch, ResizedCrop) {
  EXPECT_MATCHES_TORCHVISION(F::resized_crop(x, 2, 3, 11, 14, T::Size(9, 9)), "resized_crop");
}

TEST_F(TorchvisionMatch, BatchedImagesTransformAlike) {
  Tensor batch = stack({x, x});  // [2, 3, 17, 23]
  Tensor out = T::Resize(10)(batch);
  ASSERT_EQ(out.shape(), Shape({2, 3, 10, 13}));
  EXPECT_MATCHES_TORCHVISION(out[1], "resize_bilinear_10");
}

}  // namespace
}  // namespace kiln
