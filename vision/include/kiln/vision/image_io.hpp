// Reading and writing image files with OpenCV (torchvision.io and torchvision.utils' names).
// Available when kiln_vision was built with OpenCV (KILN_VISION_HAS_OPENCV is then defined for
// everything that links it; see docs/vision.md).
//
//   Tensor img = vision::read_image("cat.png", vision::ImageReadMode::RGB);  // uint8 [3, H, W]
//   Tensor x = transforms::ConvertImageDtype()(img);                       // float32 in [0, 1]
//   vision::save_image(batch, "grid.png", {.nrow = 8});                      // [N, C, H, W] in [0, 1]
//
// Formats: whatever OpenCV's imgcodecs reads (PNG, JPEG, BMP, PPM/PGM, TIFF, WebP, ...). Colour
// images come back in RGB order (OpenCV's BGR is converted), 16-bit images are scaled to 8 bits,
// EXIF orientation is ignored (as PIL, so ImageFolder sees what torchvision sees).
//
// Errors are kiln::DataError naming the file: it cannot be read; it is truncated (a PNG chunk
// that runs past the end, a PNG without IEND, a JPEG without its end-of-image marker: the message
// gives the byte offset where the data stops); it is not an image OpenCV can decode. Writing: an
// unknown extension or a tensor of the wrong shape/dtype is a ValueError/ShapeError/DTypeError,
// a failed write a DataError. Files are written to a temporary name and renamed into place.
#pragma once

#include <cstdint>
#include <kiln/tensor.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace kiln::vision {

enum class ImageReadMode {
  Unchanged,  // the file's own channels: 1 (gray), 3 (RGB) or 4 (RGBA)
  Gray,       // 1 channel (OpenCV's luma conversion of colour files)
  RGB,        // 3 channels (gray files repeated, alpha dropped)
};

// Decodes an encoded image held in memory into a uint8 tensor [C, H, W]. `name` is what error
// messages call it (a file name, say).
Tensor decode_image(const std::vector<uint8_t>& data, ImageReadMode mode = ImageReadMode::Unchanged,
                    const std::string& name = "<memory>");
// The same for a file.
Tensor read_image(const std::string& path, ImageReadMode mode = ImageReadMode::Unchanged);
// The whole content of a file; DataError naming it when it cannot be read.
std::vector<uint8_t> read_file(const std::string& path);

// Encodes a uint8 [C, H, W] image (C = 1, 3 or 4, RGB(A) order) in the format of `extension`
// (".png", ".jpg", ".bmp", ...). quality: JPEG quality 0-100, or PNG compression 0-9; -1 = default.
std::vector<uint8_t> encode_image(const Tensor& img, const std::string& extension, int quality = -1);
// Writes an image; the format comes from path's extension. A floating image is taken as [0, 1]
// and converted like save_image (x * 255 + 0.5, clamped).
void write_image(const Tensor& img, const std::string& path, int quality = -1);
void write_png(const Tensor& img, const std::string& path, int compression_level = 6);

struct MakeGridOptions {
  int64_t nrow = 8;        // images per row
  int64_t padding = 2;     // pixels between and around the images
  bool normalize = false;  // shift and scale to [0, 1] by value_range (default: the tensor's min and max)
  std::optional<std::pair<double, double>> value_range;
  bool scale_each = false;  // normalize each image by its own min and max
  double pad_value = 0.0;
};
// torchvision.utils.make_grid: images [N, C, H, W] (or [C, H, W], [H, W]; one channel is repeated
// to three) laid out nrow to a row, as one float32 image [C, rows * (H + padding) + padding,
// nrow' * (W + padding) + padding] (nrow' = min(nrow, N)); a single image is returned as it is.
Tensor make_grid(const Tensor& images, const MakeGridOptions& options = {});
// torchvision.utils.save_image: make_grid, then x * 255 + 0.5 clamped to [0, 255], written by
// extension (PNG for ".png").
void save_image(const Tensor& images, const std::string& path, const MakeGridOptions& options = {});

}  // namespace kiln::vision
