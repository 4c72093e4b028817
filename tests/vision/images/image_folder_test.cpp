// ImageFolder on a folder of small PNGs built in a temp dir: classes, order, values, transforms,
// and the bad inputs (an empty class folder, corrupt and truncated files).
#include <gtest/gtest.h>

#include <kiln/error.hpp>
#include <kiln/vision/image_folder.hpp>
#include <kiln/vision/image_io.hpp>

#include "temp_dir.hpp"

namespace kiln {
namespace {

namespace T = vision::transforms;
using test::pattern_image;
using test::TempDir;

// root/cat/{a.png, sub/c.png, B.PNG}, root/dog/{d.png, notes.txt, zz_corrupt.png}, root/empty/.
class ImageFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir.path() / "cat/sub");
    vision::write_png(pattern_image(0), dir / "cat/a.png");
    vision::write_png(pattern_image(1), dir / "cat/sub/c.png");
    vision::write_png(pattern_image(2), dir / "cat/B.PNG");
    std::filesystem::create_directories(dir.path() / "dog");
    vision::write_png(pattern_image(3, 4, 7), dir / "dog/d.png");
    test::write_bytes(dir / "dog/notes.txt", {'h', 'i'});
    std::vector<uint8_t> png = vision::encode_image(pattern_image(4), ".png");
    png.resize(png.size() / 2);  // cut in the middle of its data
    test::write_bytes(dir / "dog/zz_corrupt.png", png);
    std::filesystem::create_directories(dir.path() / "empty");
  }
  std::string root() const { return dir.path().string(); }
  TempDir dir{"folder"};
};

TEST_F(ImageFolderTest, EmptyClassFolderIsAnErrorNamingIt) {
  try {
    vision::ImageFolder ds(root());
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
    EXPECT_NE(msg.find(".png"), std::string::npos) << msg;
    EXPECT_NE(msg.find("allow_empty"), std::string::npos) << msg;
  }
}

TEST_F(ImageFolderTest, ClassesSamplesAndValues) {
  vision::ImageFolder ds(root(), {.allow_empty = true});
  EXPECT_EQ(ds.classes(), (std::vector<std::string>{"cat", "dog", "empty"}));
  EXPECT_EQ(ds.class_to_idx().at("dog"), 1);
  ASSERT_EQ(ds.size(), 5);  // the .txt is left out; the corrupt file is only found when read
  // os.walk order: the files of cat/ sorted (B.PNG < a.png), then cat/sub/.
  EXPECT_EQ(std::filesystem::path(ds.samples()[0].first).filename(), "B.PNG");
  EXPECT_EQ(std::filesystem::path(ds.samples()[1].first).filename(), "a.png");
  EXPECT_EQ(std::filesystem::path(ds.samples()[2].first).filename(), "c.png");
  EXPECT_EQ(ds.targets(), (std::vector<int64_t>{0, 0, 0, 1, 1}));

  data::Example ex = ds.get(1);  // a.png = pattern 0
  ASSERT_EQ(ex.input.shape(), Shape({3, 5, 6}));
  EXPECT_EQ(ex.input.dtype(), DType::Float32);
  std::vector<float> got = ex.input.to_vector<float>();
  std::vector<uint8_t> want = pattern_image(0).to_vector<uint8_t>();
  for (size_t i = 0; i < want.size(); ++i) ASSERT_FLOAT_EQ(got[i], want[i] / 255.0f) << i;
  EXPECT_EQ(ex.target.dtype(), DType::Int64);
  EXPECT_EQ(ex.target.item<int64_t>(), 0);
  EXPECT_EQ(ds.get(3).input.shape(), Shape({3, 4, 7}));
  EXPECT_EQ(ds.get(3).target.item<int64_t>(), 1);
  EXPECT_THROW(ds.get(5), IndexError);
}

TEST_F(ImageFolderTest, CorruptFileIsADataErrorNamingIt) {
  vision::ImageFolder ds(root(), {.allow_empty = true});
  try {
    ds.get(4);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("zz_corrupt.png"), std::string::npos) << msg;
    EXPECT_NE(msg.find("byte offset"), std::string::npos) << msg;
  }
}

TEST_F(ImageFolderTest, SkipCorruptLeavesItOutAndCountsIt) {
  test::write_bytes(dir / "dog/garbage.jpg", {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'});
  vision::ImageFolder ds(root(), {.allow_empty = true, .skip_corrupt = true});
  EXPECT_EQ(ds.size(), 4);
  EXPECT_EQ(ds.corrupt_count(), 2);
  for (int64_t i = 0; i < ds.size(); ++i) EXPECT_NO_THROW(ds.get(i));
}

TEST_F(ImageFolderTest, GrayscaleTransformAndExtensions) {
  vision::ImageFolder gray(root(),
                           {.allow_empty = true,
                            .mode = vision::ImageReadMode::Gray,
                            .transform = T::Compose{T::Resize(T::Size(8, 8)), T::Normalize(0.5, 0.5)}});
  Tensor x = gray.get(0).input;
  ASSERT_EQ(x.shape(), Shape({1, 8, 8}));
  EXPECT_GE(x.min().item<float>(), -1.0f);
  EXPECT_LE(x.max().item<float>(), 1.0f);
  // Only .jpg accepted: every class is empty.
  EXPECT_THROW(vision::ImageFolder(root(), {.extensions = {"JPG"}}), DataError);
  vision::ImageFolder jpg(root(), {.extensions = {"JPG"}, .allow_empty = true});
  EXPECT_EQ(jpg.size(), 0);
}

TEST(ImageFolder, MissingRootAndNoClasses) {
  EXPECT_THROW(vision::ImageFolder("/nonexistent/kiln/images"), DataError);
  TempDir dir("noclass");
  test::write_bytes(dir / "loose.png", vision::encode_image(pattern_image(0), ".png"));
  try {
    vision::ImageFolder ds(dir.path().string());
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("no class folder"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln
