// Training curves and confusion-matrix images: written as PNGs that read back, with the expected
// colours where the data says. KILN_VISION_PLOT_DIR=<dir> also keeps copies there to look at.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <kiln/error.hpp>
#include <kiln/vision/image_io.hpp>
#include <kiln/vision/plot.hpp>
#include <set>

#include "temp_dir.hpp"

namespace kiln {
namespace {

using test::TempDir;

std::map<std::string, std::vector<double>> sample_history() {
  return {{"loss", {1.9, 1.2, 0.8, 0.6, 0.5, 0.42, 0.37, 0.33}},
          {"val_loss", {1.5, 1.0, 0.8, 0.7, 0.66, 0.65, 0.66, 0.68}},
          {"accuracy", {0.42, 0.61, 0.72, 0.79, 0.83, 0.86, 0.88, 0.9}},
          {"val_accuracy", {0.52, 0.66, 0.73, 0.76, 0.78, 0.785, 0.79, 0.788}},
          {"lr", {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.01, 0.01}}};
}

// Pixels of colour (r, g, b) within tol in a uint8 [3, H, W] image.
int64_t count_colour(const Tensor& img, int r, int g, int b, int tol = 30) {
  std::vector<uint8_t> v = img.to_vector<uint8_t>();
  int64_t n = img.size(1) * img.size(2), hits = 0;
  for (int64_t i = 0; i < n; ++i)
    if (std::abs(v[i] - r) <= tol && std::abs(v[i + n] - g) <= tol && std::abs(v[i + 2 * n] - b) <= tol)
      ++hits;
  return hits;
}

void keep_copy(const Tensor& img, const std::string& name) {
  if (const char* keep = std::getenv("KILN_VISION_PLOT_DIR"))
    vision::write_png(img, std::string(keep) + "/" + name);
}

TEST(Plot, TrainingCurvesReadBackWithBothSeries) {
  TempDir dir("plot");
  auto history = sample_history();
  vision::plot_training_curves(history, dir / "curves.png");
  Tensor img = vision::read_image(dir / "curves.png");
  keep_copy(img, "training_curves.png");
  // Three panels (loss, accuracy, lr) of 520x380 side by side.
  ASSERT_EQ(img.shape(), Shape({3, 380, 3 * 520}));
  EXPECT_GT(count_colour(img, 31, 119, 180), 300);  // training: blue lines and markers
  EXPECT_GT(count_colour(img, 255, 127, 14), 200);  // validation: orange dashes
  EXPECT_GT(count_colour(img, 0, 0, 0, 60), 500);   // text, ticks, axes
  EXPECT_GT(count_colour(img, 255, 255, 255, 0), img.size(1) * img.size(2) / 2);  // mostly background
  // A title adds a band on top; one metric gives one panel.
  Tensor one = vision::render_training_curves({{"loss", {3, 2, 1}}}, {.title = "run 1"});
  EXPECT_EQ(one.shape(), Shape({3, 380 + 36, 520}));
  EXPECT_NO_THROW(vision::render_training_curves({{"loss", {0.5}}, {"val_loss", {NAN}}}));
  EXPECT_THROW(vision::render_training_curves({}), ValueError);
  EXPECT_THROW(vision::render_training_curves({{"loss", {}}}), ValueError);
}

TEST(Plot, ConfusionMatrixShadesByCount) {
  TempDir dir("cm");
  std::vector<int64_t> counts = {50, 2, 0, 5, 40, 5, 1, 9, 30};
  Tensor m = from_vector(counts, {3, 3});
  vision::plot_confusion_matrix(m, {"cat", "dog", "horse"}, dir / "cm.png");
  Tensor img = vision::read_image(dir / "cm.png");
  keep_copy(img, "confusion_matrix.png");
  ASSERT_EQ(img.dim(), 3);
  EXPECT_GT(img.size(1), 3 * 72);
  EXPECT_GT(count_colour(img, 8, 48, 107, 12), 72 * 72 / 2);    // the largest count: dark blue
  EXPECT_GT(count_colour(img, 247, 251, 255, 3), 72 * 72 / 2);  // zero: the palest shade
  Tensor norm = vision::render_confusion_matrix(m, {}, {.normalize = true, .title = "normalized"});
  keep_copy(norm, "confusion_matrix_normalized.png");
  // Ten classes with long names still render.
  std::vector<int64_t> big(100);
  for (int i = 0; i < 100; ++i) big[i] = i % 11 == 0 ? 90 : i % 7;
  std::vector<std::string> names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                    "dog",      "frog",       "horse", "ship", "truck"};
  Tensor ten = vision::render_confusion_matrix(from_vector(big, {10, 10}), names);
  keep_copy(ten, "confusion_matrix_10.png");
  EXPECT_GT(ten.size(2), 10 * 64);
  EXPECT_THROW(vision::render_confusion_matrix(from_vector(counts, {9})), ShapeError);
  EXPECT_THROW(vision::render_confusion_matrix(m, {"a", "b"}), ShapeError);
}

}  // namespace
}  // namespace kiln
