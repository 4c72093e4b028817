// Seeded random transforms repeat for a seed and differ for another; options and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <kiln/error.hpp>
#include <kiln/ops.hpp>
#include <kiln/random.hpp>
#include <kiln/vision/transforms.hpp>
#include <vector>

namespace kiln {
namespace {

namespace T = vision::transforms;
namespace F = vision::transforms::functional;

Tensor test_image(int64_t c = 3, int64_t h = 17, int64_t w = 23) {
  std::vector<float> v(static_cast<size_t>(c * h * w));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>((i * 37) % 101) / 100.0f;
  return from_vector(v, {c, h, w});
}

bool same(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.to_vector<float>() == b.to_vector<float>();
}

double max_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  std::vector<float> x = a.to_vector<float>(), y = b.to_vector<float>();
  double m = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i)
    m = std::max(m, static_cast<double>(std::abs(x[i] - y[i])));
  return m;
}

// Five draws from Generator(seed).
std::vector<Tensor> draws(const T::Transform& t, const Tensor& x, uint64_t seed) {
  Generator gen(seed);
  std::vector<Tensor> out;
  for (int i = 0; i < 5; ++i) out.push_back(t(x, gen));
  return out;
}

void expect_seeded(const T::Transform& t, const Tensor& x) {
  auto a = draws(t, x, 7), b = draws(t, x, 7), c = draws(t, x, 8);
  bool all_same_as_other_seed = true;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(same(a[i], b[i])) << t.repr() << ": draw " << i << " differs for the same seed";
    all_same_as_other_seed = all_same_as_other_seed && same(a[i], c[i]);
  }
  EXPECT_FALSE(all_same_as_other_seed) << t.repr() << ": another seed gave the same five outputs";
}

TEST(RandomTransforms, RepeatForASeedAndDifferForAnother) {
  Tensor x = test_image();
  expect_seeded(T::RandomHorizontalFlip(), x);
  expect_seeded(T::RandomVerticalFlip(), x);
  expect_seeded(T::RandomCrop(12, {.padding = 2}), x);
  expect_seeded(T::RandomCrop(T::Size(9, 11), {.padding = 3, .padding_mode = T::PaddingMode::Reflect}), x);
  expect_seeded(T::RandomRotation(30.0), x);
  expect_seeded(
      T::RandomRotation(-10.0, 45.0, {.interpolation = T::InterpolationMode::Bilinear, .fill = {0.5}}), x);
  expect_seeded(T::RandomResizedCrop(8), x);
  expect_seeded(T::ColorJitter(0.4, 0.4, 0.4, 0.1), x);
  expect_seeded(T::Compose{T::RandomCrop(12), T::RandomHorizontalFlip(), T::ColorJitter({.brightness = 0.3})},
                x);
}

TEST(RandomTransforms, DefaultGeneratorFollowsManualSeed) {
  Tensor x = test_image();
  T::Compose t{T::RandomResizedCrop(T::Size(6, 8)), T::RandomHorizontalFlip()};
  manual_seed(123);
  Tensor a = t(x);
  manual_seed(123);
  Tensor b = t(x);
  EXPECT_TRUE(same(a, b));
  EXPECT_EQ(a.shape(), Shape({3, 6, 8}));
}

TEST(RandomTransforms, FlipProbabilities) {
  Tensor x = test_image();
  Generator gen(1);
  EXPECT_TRUE(same(T::RandomHorizontalFlip(0.0)(x, gen), x));
  EXPECT_TRUE(same(T::RandomHorizontalFlip(1.0)(x, gen), F::hflip(x)));
  EXPECT_TRUE(same(F::hflip(F::hflip(x)), x));
  int flipped = 0;
  for (int i = 0; i < 200; ++i) flipped += same(T::RandomVerticalFlip(0.5)(x, gen), x) ? 0 : 1;
  EXPECT_GT(flipped, 60);
  EXPECT_LT(flipped, 140);
}

TEST(RandomTransforms, RandomCropIsAWindowOfThePaddedImage) {
  Tensor x = test_image();
  Tensor padded = F::pad(x, 2);
  Generator gen(3);
  for (int i = 0; i < 10; ++i) {
    Tensor c = T::RandomCrop(T::Size(10, 12), {.padding = 2})(x, gen);
    ASSERT_EQ(c.shape(), Shape({3, 10, 12}));
    bool found = false;
    for (int64_t top = 0; top <= 21 - 10 && !found; ++top)
      for (int64_t left = 0; left <= 27 - 12 && !found; ++left)
        found = same(c, F::crop(padded, top, left, 10, 12));
    EXPECT_TRUE(found);
  }
  // pad_if_needed grows a small image up to the crop.
  EXPECT_EQ(T::RandomCrop(T::Size(20, 30), {.pad_if_needed = true})(x, gen).shape(), Shape({3, 20, 30}));
  EXPECT_THROW(T::RandomCrop(T::Size(20, 30))(x, gen), ValueError);
}

TEST(RandomTransforms, RandomResizedCropAndRotationShapes) {
  Tensor x = test_image();
  Generator gen(4);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(T::RandomResizedCrop(T::Size(7, 5))(x, gen).shape(), Shape({3, 7, 5}));
  // Impossible ratios fall back to the central crop.
  Tensor fb = T::RandomResizedCrop(8, {.scale = {2.0, 3.0}, .ratio = {5.0, 6.0}})(x, gen);
  EXPECT_EQ(fb.shape(), Shape({3, 8, 8}));
  // A rotation by 0 degrees (nearest) is the identity; expand grows the canvas.
  EXPECT_TRUE(same(T::RandomRotation(0.0)(x, gen), x));
  Tensor big = T::RandomRotation(45.0, 45.0, {.expand = true})(x, gen);
  EXPECT_GT(big.size(-1), 23);
  EXPECT_GT(big.size(-2), 17);
}

TEST(RandomTransforms, ColorJitterRanges) {
  Tensor x = test_image() * 0.5;
  Generator gen(5);
  EXPECT_TRUE(same(T::ColorJitter(0.0)(x, gen), x));
  for (int i = 0; i < 10; ++i) {
    std::vector<float> a = x.to_vector<float>(), b = T::ColorJitter(0.2)(x, gen).to_vector<float>();
    float ratio = b[5] / a[5];  // brightness scales every pixel by one factor in [0.8, 1.2]
    EXPECT_GE(ratio, 0.8f - 1e-5f);
    EXPECT_LE(ratio, 1.2f + 1e-5f);
    for (size_t k = 0; k < a.size(); ++k) EXPECT_NEAR(b[k], a[k] * ratio, 1e-5f);
  }
  EXPECT_THROW(T::ColorJitter(0.1, 0.1, 0.1, 0.7), ValueError);
}

TEST(Transforms, ComposeLambdaAndRepr) {
  Tensor x = test_image();
  T::Compose t{T::CenterCrop(9), [](const Tensor& img) { return img * 2.0; }, T::Normalize(1.0, 2.0)};
  Tensor y = t(x);
  EXPECT_NEAR(max_diff(y, (F::center_crop(x, 9) * 2.0 - 1.0) / 2.0), 0.0, 1e-6);
  EXPECT_NE(t.repr().find("CenterCrop(size=(9, 9))"), std::string::npos);
  EXPECT_NE(t.repr().find("Normalize(mean=[1], std=[2])"), std::string::npos);
}

TEST(Transforms, ToTensorConvertsHwcUint8) {
  std::vector<uint8_t> hwc = {0, 255, 51, 102, 204, 153};  // 1 x 2 x 3
  Tensor t = T::ToTensor()(from_vector(hwc, {1, 2, 3}));
  ASSERT_EQ(t.shape(), Shape({3, 1, 2}));
  std::vector<float> v = t.to_vector<float>();
  EXPECT_FLOAT_EQ(v[0], 0.0f);  // R of pixel 0
  EXPECT_FLOAT_EQ(v[1], 0.4f);  // R of pixel 1
  EXPECT_FLOAT_EQ(v[2], 1.0f);  // G of pixel 0
  EXPECT_FLOAT_EQ(v[5], 0.6f);  // B of pixel 1
  Tensor chw = T::ConvertImageDtype()(from_vector(hwc, {3, 1, 2}));
  EXPECT_FLOAT_EQ(chw.to_vector<float>()[1], 1.0f);
  EXPECT_TRUE(same(T::ToTensor()(t), t));  // floating images pass through
}

TEST(Transforms, ErrorsNameTheProblem) {
  Tensor x = test_image();
  try {
    T::Normalize({0.5, 0.5}, {0.2, 0.2})(x);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("2 means for an image of 3 channels"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(T::Resize(5)(from_vector(std::vector<uint8_t>(12, 1), {3, 2, 2})), DTypeError);
  EXPECT_THROW(T::Resize(5)(from_vector(std::vector<float>(4, 1), {2, 2})), ShapeError);
  EXPECT_THROW(T::Pad(17, {.padding_mode = T::PaddingMode::Reflect})(x), ValueError);
  EXPECT_THROW(T::Grayscale()(test_image(2)), ShapeError);
  EXPECT_THROW(T::Grayscale(2), ValueError);
  EXPECT_THROW(T::Normalize({1.0}, {0.0}), ValueError);
}

}  // namespace
}  // namespace kiln
