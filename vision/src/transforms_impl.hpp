// Private to vision/src/transforms*.cpp: an image as host float planes.
//
// Note [Transforms run on host planes]: a transform copies the image to a host vector once, works
// plane by plane (each of the N*C planes of H x W floats, row-major), and copies the result back to
// the input's device. Images are small and the arithmetic is gather-heavy, so this is simpler and
// faster than composing catalogue ops, and it lets the kernels follow torchvision's formulas
// literally (the fixtures compare within 1/255).
#pragma once

#include <cstdint>
#include <kiln/tensor.hpp>
#include <kiln/vision/transforms.hpp>
#include <string>
#include <vector>

namespace kiln::vision::transforms::detail {

struct Planes {
  Shape lead;  // extents before [C, H, W] (empty for a single image)
  int64_t channels = 0, height = 0, width = 0;
  Device device;
  std::vector<float> data;

  int64_t images() const { return lead.numel(); }
  int64_t plane_size() const { return height * width; }
  int64_t num_planes() const { return images() * channels; }
  float* plane(int64_t p) { return data.data() + p * plane_size(); }
  const float* plane(int64_t p) const { return data.data() + p * plane_size(); }
  // Pixel (y, x) of channel c of image n.
  float* image(int64_t n) { return data.data() + n * channels * plane_size(); }
};

// The image as planes; `op` names the transform in errors. Needs a floating [..., C, H, W] tensor.
Planes to_planes(const Tensor& img, const char* op);
// An all-`value` image with src's leading extents and device and the given C, H, W.
Planes planes_like(const Planes& src, int64_t channels, int64_t height, int64_t width, float value = 0.0f);
Tensor from_planes(const Planes& planes);

// Python's round(): halves to even (torchvision's crop offsets use it).
int64_t round_half_even(double v);
// Checks that c is one of the allowed channel counts.
void check_channels(const Planes& p, std::initializer_list<int64_t> allowed, const char* op);

std::string size_str(Size s);
std::string padding_mode_name(PaddingMode m);
std::string interpolation_name(InterpolationMode m);

}  // namespace kiln::vision::transforms::detail
