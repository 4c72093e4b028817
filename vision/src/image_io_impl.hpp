// Private to vision/src: decoding into OpenCV matrices, shared by image_io.cpp, image_folder.cpp
// and plot.cpp. Only these .cpp files see OpenCV; public headers never include it.
#pragma once

#include <cstdint>
#include <kiln/tensor.hpp>
#include <kiln/vision/image_io.hpp>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace kiln::vision::detail {

// Checks that a PNG's chunks or a JPEG's markers reach their end (OpenCV's decoders accept a
// truncated JPEG with only a warning). Throws DataError naming `name` and the byte offset.
void check_not_truncated(const std::vector<uint8_t>& data, const std::string& name);
// Decodes to an 8-bit matrix in RGB(A) order (gray stays 1 channel); DataError naming `name`.
cv::Mat decode_mat(const std::vector<uint8_t>& data, ImageReadMode mode, const std::string& name);
// An 8-bit H x W x C matrix (RGB order) as uint8 [C, H, W] or float32 [C, H, W] / 255.
Tensor mat_to_chw_uint8(const cv::Mat& mat);
Tensor mat_to_chw_float(const cv::Mat& mat);
// A uint8 [C, H, W] tensor (RGB order) as an 8-bit matrix in OpenCV's BGR(A) order.
cv::Mat chw_uint8_to_bgr_mat(const Tensor& img, const char* op);
// Encodes and writes through a temporary file renamed into place; DataError naming the path.
void write_mat(const cv::Mat& bgr, const std::string& path, int quality);

}  // namespace kiln::vision::detail
