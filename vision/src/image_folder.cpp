// ImageFolder: class folders found and sorted like torchvision's find_classes and
// make_dataset (os.walk with sorted directories and file names), images decoded with OpenCV.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <kiln/error.hpp>
#include <kiln/vision/image_folder.hpp>
#include <sstream>

#include "image_io_impl.hpp"

namespace kiln::vision {

namespace fs = std::filesystem;

const std::vector<std::string>& default_image_extensions() {
  static const std::vector<std::string> extensions = {".jpg", ".jpeg", ".png",  ".ppm", ".bmp",
                                                      ".pgm", ".tif",  ".tiff", ".webp"};
  return extensions;
}

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool has_extension(const std::string& name, const std::vector<std::string>& extensions) {
  std::string n = lower(name);
  for (const std::string& e : extensions)
    if (n.size() >= e.size() && n.compare(n.size() - e.size(), e.size(), e) == 0) return true;
  return false;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// The image files under dir, recursively, ordered as sorted(os.walk(dir)) then sorted(files).
std::vector<std::string> find_images(const fs::path& dir, const std::vector<std::string>& extensions) {
  std::vector<std::pair<std::string, std::string>> found;  // (folder, file name)
  std::error_code ec;
  auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink, ec);
  KILN_CHECK(!ec, DataError, "ImageFolder: cannot list '", dir.string(), "': ", ec.message());
  for (const fs::directory_entry& entry : it) {
    if (entry.is_directory(ec)) continue;
    std::string name = entry.path().filename().string();
    if (has_extension(name, extensions)) found.emplace_back(entry.path().parent_path().string(), name);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (const auto& [folder, name] : found) paths.push_back((fs::path(folder) / name).string());
  return paths;
}

}  // namespace

ImageFolder::ImageFolder(std::string root, ImageFolderOptions options)
    : root_(std::move(root)), options_(std::move(options)) {
  KILN_CHECK(
      options_.mode != ImageReadMode::Unchanged, ValueError,
      "ImageFolder: mode must be RGB or Gray (every image of a data set needs the same channel count)");
  KILN_CHECK(!options_.extensions.empty(), ValueError, "ImageFolder: expected at least one file extension");
  for (std::string& e : options_.extensions) e = lower(e.empty() || e[0] == '.' ? e : "." + e);
  std::error_code ec;
  KILN_CHECK(fs::is_directory(root_, ec), DataError, "ImageFolder: the root '", root_,
             fs::exists(root_, ec) ? "' is not a folder" : "' does not exist");

  for (const fs::directory_entry& entry : fs::directory_iterator(root_, ec))
    if (entry.is_directory(ec)) classes_.push_back(entry.path().filename().string());
  KILN_CHECK(!ec, DataError, "ImageFolder: cannot list '", root_, "': ", ec.message());
  std::sort(classes_.begin(), classes_.end());
  KILN_CHECK(!classes_.empty(), DataError, "ImageFolder: found no class folder in '", root_,
             "'; expected one sub-folder of images per class (root/<class>/<image>)");

  std::vector<std::string> empty;
  for (size_t k = 0; k < classes_.size(); ++k) {
    class_to_idx_[classes_[k]] = static_cast<int64_t>(k);
    std::vector<std::string> files = find_images(fs::path(root_) / classes_[k], options_.extensions);
    if (files.empty()) empty.push_back((fs::path(root_) / classes_[k]).string());
    for (std::string& f : files) samples_.emplace_back(std::move(f), static_cast<int64_t>(k));
  }
  KILN_CHECK(empty.empty() || options_.allow_empty, DataError,
             "ImageFolder: found no valid image file in the class folder", empty.size() > 1 ? "s " : " ",
             join(empty), "; accepted extensions (any case): ", join(options_.extensions),
             ". Set allow_empty to accept empty classes");

  if (options_.skip_corrupt) {
    std::vector<std::pair<std::string, int64_t>> good;
    for (auto& sample : samples_) {
      try {
        detail::decode_mat(read_file(sample.first), options_.mode, sample.first);
        good.push_back(std::move(sample));
      } catch (const DataError&) {
        corrupt_files_.push_back(sample.first);
      }
    }
    samples_ = std::move(good);
  }
}

Tensor ImageFolder::load(int64_t index) const {
  KILN_CHECK(index >= 0 && index < size(), IndexError, "ImageFolder: index ", index, " is out of range for ",
             size(), " images in '", root_, "'");
  const std::string& path = samples_[static_cast<size_t>(index)].first;
  return detail::mat_to_chw_float(detail::decode_mat(read_file(path), options_.mode, path));
}

data::Example ImageFolder::get(int64_t index) const {
  Tensor img = load(index);
  if (options_.transform.defined()) {
    Generator& gen = options_.generator ? *options_.generator : default_generator();
    img = options_.transform(img, gen);
  }
  return {img, scalar_tensor(static_cast<double>(samples_[static_cast<size_t>(index)].second),
                             {.dtype = DType::Int64})};
}

std::vector<int64_t> ImageFolder::targets() const {
  std::vector<int64_t> t;
  t.reserve(samples_.size());
  for (const auto& s : samples_) t.push_back(s.second);
  return t;
}

}  // namespace kiln::vision
