// Image decoding and encoding with OpenCV, and torchvision.utils' make_grid and save_image.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <kiln/error.hpp>
#include <kiln/vision/image_io.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "image_io_impl.hpp"

namespace kiln::vision {

namespace detail {

namespace {

uint32_t read_be32(const std::vector<uint8_t>& d, size_t at) {
  return (uint32_t{d[at]} << 24) | (uint32_t{d[at + 1]} << 16) | (uint32_t{d[at + 2]} << 8) |
         uint32_t{d[at + 3]};
}

void check_png(const std::vector<uint8_t>& d, const std::string& name) {
  size_t at = 8;  // after the signature
  while (true) {
    KILN_CHECK(at + 8 <= d.size(), DataError, "truncated PNG file '", name,
               "': expected a chunk header at byte offset ", at, ", but the file ends at ", d.size(),
               " bytes (no IEND chunk)");
    uint32_t length = read_be32(d, at);
    std::string type(reinterpret_cast<const char*>(&d[at + 4]), 4);
    size_t end = at + 12 + static_cast<size_t>(length);
    KILN_CHECK(end <= d.size(), DataError, "truncated PNG file '", name, "': chunk '", type,
               "' at byte offset ", at, " needs ", 12 + static_cast<size_t>(length),
               " bytes, but the file ends at ", d.size(), " bytes");
    if (type == "IEND") return;
    at = end;
  }
}

void check_jpeg(const std::vector<uint8_t>& d, const std::string& name) {
  // Entropy-coded data never holds FF D9 (0xFF is stuffed as FF 00), so the last start-of-scan
  // marker must be followed by the end-of-image marker.
  size_t sos = 0;
  for (size_t i = 2; i + 1 < d.size(); ++i)
    if (d[i] == 0xFF && d[i + 1] == 0xDA) sos = i;
  KILN_CHECK(sos != 0, DataError, "truncated JPEG file '", name, "': no start-of-scan marker in its ",
             d.size(), " bytes");
  for (size_t i = sos + 2; i + 1 < d.size(); ++i)
    if (d[i] == 0xFF && d[i + 1] == 0xD9) return;
  throw DataError(kiln::detail::concat("truncated JPEG file '", name, "': the scan starting at byte offset ",
                                       sos, " has no end-of-image marker before the file ends at ", d.size(),
                                       " bytes"));
}

}  // namespace

void check_not_truncated(const std::vector<uint8_t>& d, const std::string& name) {
  static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (d.size() >= 8 && std::equal(png_magic, png_magic + 8, d.begin())) return check_png(d, name);
  if (d.size() >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return check_jpeg(d, name);
}

cv::Mat decode_mat(const std::vector<uint8_t>& data, ImageReadMode mode, const std::string& name) {
  KILN_CHECK(!data.empty(), DataError, "cannot decode image '", name, "': it is empty (0 bytes)");
  check_not_truncated(data, name);
  int flags = mode == ImageReadMode::Gray  ? cv::IMREAD_GRAYSCALE | cv::IMREAD_IGNORE_ORIENTATION
              : mode == ImageReadMode::RGB ? cv::IMREAD_COLOR | cv::IMREAD_IGNORE_ORIENTATION
                                           : cv::IMREAD_UNCHANGED;
  cv::Mat mat;
  try {
    cv::Mat buffer(1, static_cast<int>(data.size()), CV_8U, const_cast<uint8_t*>(data.data()));
    mat = cv::imdecode(buffer, flags);
  } catch (const cv::Exception& e) {
    throw DataError(
        kiln::detail::concat("cannot decode image '", name, "' (", data.size(), " bytes): ", e.what()));
  }
  KILN_CHECK(!mat.empty(), DataError, "cannot decode image '", name, "' (", data.size(),
             " bytes): not an image format OpenCV reads (PNG, JPEG, BMP, PPM, TIFF, WebP, ...), or corrupt");
  if (mat.depth() == CV_16U) {
    mat.convertTo(mat, CV_8U, 1.0 / 257.0);
  } else if (mat.depth() != CV_8U) {
    double lo = 0, hi = 0;
    cv::minMaxLoc(mat.reshape(1), &lo, &hi);
    mat.convertTo(mat, CV_8U, hi > 1.0 ? 1.0 : 255.0);
  }
  if (mat.channels() == 3) cv::cvtColor(mat, mat, cv::COLOR_BGR2RGB);
  if (mat.channels() == 4) cv::cvtColor(mat, mat, cv::COLOR_BGRA2RGBA);
  if (mat.channels() == 2) cv::extractChannel(mat, mat, 0);  // gray + alpha: keep the gray
  return mat;
}

template <typename T>
static Tensor mat_to_chw(const cv::Mat& mat, T scale) {
  KILN_ASSERT(mat.depth() == CV_8U, "mat_to_chw expects 8-bit data");
  const int64_t h = mat.rows, w = mat.cols, c = mat.channels();
  std::vector<T> out(static_cast<size_t>(c * h * w));
  for (int64_t y = 0; y < h; ++y) {
    const uint8_t* row = mat.ptr<uint8_t>(static_cast<int>(y));
    for (int64_t x = 0; x < w; ++x)
      for (int64_t k = 0; k < c; ++k)
        out[static_cast<size_t>((k * h + y) * w + x)] = static_cast<T>(row[x * c + k]) * scale;
  }
  return from_vector(out, {c, h, w}, std::nullopt);
}
Tensor mat_to_chw_uint8(const cv::Mat& mat) {
  return mat_to_chw<uint8_t>(mat, 1);
}
Tensor mat_to_chw_float(const cv::Mat& mat) {
  return mat_to_chw<float>(mat, 1.0f / 255.0f);
}

cv::Mat chw_uint8_to_bgr_mat(const Tensor& img, const char* op) {
  KILN_CHECK(img.defined() && img.dim() == 3, ShapeError, op, ": expected an image [C, H, W], got ",
             img.defined() ? img.shape().str() : std::string("an undefined tensor"));
  KILN_CHECK(img.dtype() == DType::UInt8, DTypeError, op, ": expected a uint8 image, got ",
             dtype_name(img.dtype()));
  const int64_t c = img.size(0), h = img.size(1), w = img.size(2);
  KILN_CHECK(c == 1 || c == 3 || c == 4, ShapeError, op, ": expected 1, 3 or 4 channels, got shape ",
             img.shape());
  KILN_CHECK(h > 0 && w > 0, ShapeError, op, ": cannot write an empty image of shape ", img.shape());
  std::vector<uint8_t> src = img.to_vector<uint8_t>();
  cv::Mat mat(static_cast<int>(h), static_cast<int>(w), CV_8UC(static_cast<int>(c)));
  for (int64_t y = 0; y < h; ++y) {
    uint8_t* row = mat.ptr<uint8_t>(static_cast<int>(y));
    for (int64_t x = 0; x < w; ++x)
      for (int64_t k = 0; k < c; ++k) row[x * c + k] = src[static_cast<size_t>((k * h + y) * w + x)];
  }
  if (c == 3) cv::cvtColor(mat, mat, cv::COLOR_RGB2BGR);
  if (c == 4) cv::cvtColor(mat, mat, cv::COLOR_RGBA2BGRA);
  return mat;
}

static std::vector<uint8_t> encode_mat(const cv::Mat& bgr, std::string ext, int quality,
                                       const std::string& what) {
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  KILN_CHECK(!ext.empty() && ext[0] == '.', ValueError, what,
             ": expected a file extension such as \".png\", got \"", ext, "\"");
  std::vector<int> params;
  if (quality >= 0 && ext == ".png") params = {cv::IMWRITE_PNG_COMPRESSION, std::clamp(quality, 0, 9)};
  if (quality >= 0 && (ext == ".jpg" || ext == ".jpeg"))
    params = {cv::IMWRITE_JPEG_QUALITY, std::clamp(quality, 0, 100)};
  std::vector<uint8_t> out;
  bool ok = false;
  try {
    ok = cv::imencode(ext, bgr, out, params);
  } catch (const cv::Exception& e) {
    throw ValueError(kiln::detail::concat(what, ": OpenCV cannot encode \"", ext, "\" images: ", e.what()));
  }
  KILN_CHECK(ok, ValueError, what, ": OpenCV could not encode the image as \"", ext, "\"");
  return out;
}

void write_mat(const cv::Mat& bgr, const std::string& path, int quality) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::vector<uint8_t> bytes = encode_mat(bgr, ext, quality, "writing '" + path + "'");
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    KILN_CHECK(f.good(), DataError, "cannot open '", tmp, "' for writing",
               std::filesystem::is_directory(std::filesystem::path(path).parent_path().empty()
                                                 ? std::filesystem::path(".")
                                                 : std::filesystem::path(path).parent_path())
                   ? ""
                   : " (its folder does not exist)");
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    f.close();
    KILN_CHECK(!f.fail(), DataError, "could not write ", bytes.size(), " bytes to '", tmp, "'");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw DataError(kiln::detail::concat("could not rename '", tmp, "' to '", path, "'"));
  }
}

}  // namespace detail

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  KILN_CHECK(f.good(), DataError, "cannot open '", path, "' for reading");
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  KILN_CHECK(!f.bad(), DataError, "error reading '", path, "' (after ", data.size(), " bytes)");
  return data;
}

Tensor decode_image(const std::vector<uint8_t>& data, ImageReadMode mode, const std::string& name) {
  return detail::mat_to_chw_uint8(detail::decode_mat(data, mode, name));
}

Tensor read_image(const std::string& path, ImageReadMode mode) {
  return decode_image(read_file(path), mode, path);
}

// A floating [C, H, W] image in [0, 1] as uint8 (x * 255 + 0.5, clamped: save_image's rounding).
static Tensor to_uint8_image(const Tensor& img) {
  if (img.dtype() == DType::UInt8) return img;
  KILN_CHECK(is_floating(img.dtype()), DTypeError, "write_image: expected a uint8 or floating image, got ",
             dtype_name(img.dtype()));
  std::vector<float> v = img.to_vector<float>();
  std::vector<uint8_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    out[i] = static_cast<uint8_t>(std::clamp(v[i] * 255.0f + 0.5f, 0.0f, 255.0f));
  return from_vector(out, img.shape(), std::nullopt);
}

std::vector<uint8_t> encode_image(const Tensor& img, const std::string& extension, int quality) {
  return detail::encode_mat(detail::chw_uint8_to_bgr_mat(img, "encode_image"), extension, quality,
                            "encode_image");
}

void write_image(const Tensor& img, const std::string& path, int quality) {
  KILN_CHECK(img.defined(), ValueError, "write_image: expected an image, got an undefined tensor");
  detail::write_mat(detail::chw_uint8_to_bgr_mat(to_uint8_image(img), "write_image"), path, quality);
}

void write_png(const Tensor& img, const std::string& path, int compression_level) {
  std::string ext = std::filesystem::path(path).extension().string();
  KILN_CHECK(ext == ".png" || ext == ".PNG", ValueError, "write_png: expected a path ending in .png, got '",
             path, "'");
  write_image(img, path, compression_level);
}

Tensor make_grid(const Tensor& images, const MakeGridOptions& options) {
  KILN_CHECK(images.defined() && images.dim() >= 2 && images.dim() <= 4, ShapeError,
             "make_grid: expected images [N, C, H, W], [C, H, W] or [H, W], got ",
             images.defined() ? images.shape().str() : std::string("an undefined tensor"));
  KILN_CHECK(options.nrow > 0 && options.padding >= 0, ValueError,
             "make_grid: expected nrow > 0 and padding >= 0, got ", options.nrow, " and ", options.padding);
  Tensor t = images.to(DType::Float32);
  if (t.dim() == 2) t = t.unsqueeze(0);
  if (t.dim() == 3) t = t.unsqueeze(0);
  const int64_t n = t.size(0), h = t.size(2), w = t.size(3);
  const int64_t c = t.size(1) == 1 ? 3 : t.size(1);
  std::vector<float> v = t.to_vector<float>();
  if (t.size(1) == 1) {  // gray: repeat to three channels, as torchvision
    std::vector<float> rgb(static_cast<size_t>(n * 3 * h * w));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < 3; ++k)
        std::copy_n(v.begin() + i * h * w, h * w, rgb.begin() + (i * 3 + k) * h * w);
    v = std::move(rgb);
  }
  const int64_t per_image = c * h * w;
  if (options.normalize && !v.empty()) {
    auto norm = [&](float* p, int64_t count) {
      float lo, hi;
      if (options.value_range) {
        lo = static_cast<float>(options.value_range->first),
        hi = static_cast<float>(options.value_range->second);
      } else {
        lo = *std::min_element(p, p + count), hi = *std::max_element(p, p + count);
      }
      float scale = std::max(hi - lo, 1e-5f);
      for (int64_t i = 0; i < count; ++i) p[i] = (std::clamp(p[i], lo, hi) - lo) / scale;
    };
    if (options.scale_each)
      for (int64_t i = 0; i < n; ++i) norm(v.data() + i * per_image, per_image);
    else
      norm(v.data(), static_cast<int64_t>(v.size()));
  }
  Device device = images.device();
  if (n == 1) return from_vector(v, {c, h, w}, device);
  const int64_t xmaps = std::min(options.nrow, n), ymaps = (n + xmaps - 1) / xmaps;
  const int64_t cell_h = h + options.padding, cell_w = w + options.padding;
  const int64_t gh = cell_h * ymaps + options.padding, gw = cell_w * xmaps + options.padding;
  std::vector<float> grid(static_cast<size_t>(c * gh * gw), static_cast<float>(options.pad_value));
  for (int64_t k = 0; k < n; ++k) {
    int64_t y0 = (k / xmaps) * cell_h + options.padding, x0 = (k % xmaps) * cell_w + options.padding;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        std::copy_n(v.begin() + k * per_image + (ch * h + y) * w, w,
                    grid.begin() + (ch * gh + y0 + y) * gw + x0);
  }
  return from_vector(grid, {c, gh, gw}, device);
}

void save_image(const Tensor& images, const std::string& path, const MakeGridOptions& options) {
  write_image(make_grid(images, options), path);
}

}  // namespace kiln::vision
