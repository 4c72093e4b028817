// ImageFolder: a labelled image data set laid out one folder per class (torchvision's
// datasets.ImageFolder). Needs kiln_vision built with OpenCV (KILN_VISION_HAS_OPENCV).
//
//   root/cat/001.png            classes() = {"cat", "dog"} (sorted folder names), cat = 0, dog = 1
//   root/cat/more/002.jpg       files are found recursively, in sorted order
//   root/dog/003.PNG            extensions match case-insensitively
//
//   namespace T = kiln::vision::transforms;
//   vision::ImageFolder train("data/train", {.transform = T::Compose{T::RandomResizedCrop(224),
//                                                                    T::RandomHorizontalFlip()}});
//   data::DataLoader loader(std::make_shared<vision::ImageFolder>(train), {.batch_size = 32});
//
// get(i) decodes file i (OpenCV) into a float32 [C, H, W] image in [0, 1] (C = 3 for RGB, 1 for
// Gray), applies the transform, and returns it with the class index as an int64 scalar.
// Images may differ in size; a DataLoader batches them only once a transform makes them equal.
//
// Errors (kiln::DataError unless said otherwise):
//  - root missing or not a folder; no class folders in root;
//  - a class folder with no file of an accepted extension (the message names the folder and the
//    extensions), unless allow_empty;
//  - a corrupt or truncated image: get(i) throws a DataError naming the file (and the byte offset
//    where a truncated PNG/JPEG stops). With skip_corrupt, the constructor decodes every file once,
//    leaves out those that fail, and counts them (corrupt_count(), corrupt_files()): slower to
//    open, but get() then never meets a corrupt file.
#pragma once

#include <cstdint>
#include <kiln/data/dataset.hpp>
#include <kiln/random.hpp>
#include <kiln/vision/image_io.hpp>
#include <kiln/vision/transforms.hpp>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace kiln::vision {

// torchvision's IMG_EXTENSIONS.
const std::vector<std::string>& default_image_extensions();

struct ImageFolderOptions {
  std::vector<std::string> extensions = default_image_extensions();  // with or without the dot
  bool allow_empty = false;                                          // accept class folders without images
  ImageReadMode mode = ImageReadMode::RGB;                           // RGB (3 channels) or Gray (1 channel)
  transforms::TransformRef transform;  // applied to the float [C, H, W] image; none by default
  bool skip_corrupt = false;           // see above
  Generator* generator = nullptr;      // for random transforms; default_generator() when null
};

class ImageFolder : public data::Dataset {
 public:
  explicit ImageFolder(std::string root, ImageFolderOptions options = {});
  int64_t size() const override { return static_cast<int64_t>(samples_.size()); }
  // {float32 [C, H, W], int64 scalar class index}. IndexError outside [0, size()).
  data::Example get(int64_t index) const override;
  // The decoded image of sample i before the transform (float32 [C, H, W] in [0, 1]).
  Tensor load(int64_t index) const;

  const std::string& root() const { return root_; }
  const std::vector<std::string>& classes() const { return classes_; }
  const std::map<std::string, int64_t>& class_to_idx() const { return class_to_idx_; }
  // (path, class index) of every sample, in order.
  const std::vector<std::pair<std::string, int64_t>>& samples() const { return samples_; }
  std::vector<int64_t> targets() const;
  int64_t num_classes() const { return static_cast<int64_t>(classes_.size()); }
  // With skip_corrupt: how many files were left out, and which.
  int64_t corrupt_count() const { return static_cast<int64_t>(corrupt_files_.size()); }
  const std::vector<std::string>& corrupt_files() const { return corrupt_files_; }

 private:
  std::string root_;
  ImageFolderOptions options_;
  std::vector<std::string> classes_;
  std::map<std::string, int64_t> class_to_idx_;
  std::vector<std::pair<std::string, int64_t>> samples_;
  std::vector<std::string> corrupt_files_;
};

}  // namespace kiln::vision
