// Colour kernels of transforms::functional, following torchvision's tensor path
// (torchvision/transforms/_functional_tensor.py): luma weights, _blend, _rgb2hsv and _hsv2rgb.
#include <algorithm>
#include <cmath>
#include <kiln/error.hpp>

#include "transforms_impl.hpp"

namespace kiln::vision::transforms::functional {

using detail::Planes;

namespace {

// Luma of image n's RGB planes into dst (H*W floats).
void luma(const Planes& p, int64_t n, float* dst) {
  const float* r = p.plane(n * 3);
  const float* g = p.plane(n * 3 + 1);
  const float* b = p.plane(n * 3 + 2);
  for (int64_t i = 0; i < p.plane_size(); ++i) dst[i] = 0.2989f * r[i] + 0.587f * g[i] + 0.114f * b[i];
}

// torchvision's _blend for float images: (ratio * a + (1 - ratio) * b) clamped to [0, 1].
float blend(float a, float b, float ratio) {
  return std::clamp(ratio * a + (1.0f - ratio) * b, 0.0f, 1.0f);
}

void check_factor(double factor, const char* op) {
  KILN_CHECK(factor >= 0.0 && std::isfinite(factor), ValueError, op, ": expected a non-negative factor, got ",
             factor);
}

}  // namespace

Tensor rgb_to_grayscale(const Tensor& img, int64_t num_output_channels) {
  Planes p = detail::to_planes(img, "Grayscale");
  detail::check_channels(p, {1, 3}, "Grayscale");
  KILN_CHECK(num_output_channels == 1 || num_output_channels == 3, ValueError,
             "Grayscale: num_output_channels must be 1 or 3, got ", num_output_channels);
  Planes out = detail::planes_like(p, num_output_channels, p.height, p.width);
  for (int64_t n = 0; n < p.images(); ++n) {
    float* dst = out.plane(n * num_output_channels);
    if (p.channels == 3)
      luma(p, n, dst);
    else
      std::copy_n(p.plane(n), p.plane_size(), dst);
    for (int64_t c = 1; c < num_output_channels; ++c)
      std::copy_n(dst, p.plane_size(), out.plane(n * num_output_channels + c));
  }
  return detail::from_planes(out);
}

Tensor adjust_brightness(const Tensor& img, double factor) {
  check_factor(factor, "adjust_brightness");
  Planes p = detail::to_planes(img, "adjust_brightness");
  detail::check_channels(p, {1, 3}, "adjust_brightness");
  auto f = static_cast<float>(factor);
  for (float& v : p.data) v = blend(v, 0.0f, f);
  return detail::from_planes(p);
}

Tensor adjust_contrast(const Tensor& img, double factor) {
  check_factor(factor, "adjust_contrast");
  Planes p = detail::to_planes(img, "adjust_contrast");
  detail::check_channels(p, {1, 3}, "adjust_contrast");
  auto f = static_cast<float>(factor);
  std::vector<float> gray(static_cast<size_t>(p.plane_size()));
  for (int64_t n = 0; n < p.images(); ++n) {
    double sum = 0.0;
    if (p.channels == 3) {
      luma(p, n, gray.data());
      for (float v : gray) sum += v;
    } else {
      for (int64_t i = 0; i < p.plane_size(); ++i) sum += p.plane(n)[i];
    }
    auto mean = static_cast<float>(sum / static_cast<double>(std::max<int64_t>(p.plane_size(), 1)));
    float* q = p.image(n);
    for (int64_t i = 0; i < p.channels * p.plane_size(); ++i) q[i] = blend(q[i], mean, f);
  }
  return detail::from_planes(p);
}

Tensor adjust_saturation(const Tensor& img, double factor) {
  check_factor(factor, "adjust_saturation");
  Planes p = detail::to_planes(img, "adjust_saturation");
  detail::check_channels(p, {1, 3}, "adjust_saturation");
  if (p.channels == 1) return detail::from_planes(p);
  auto f = static_cast<float>(factor);
  std::vector<float> gray(static_cast<size_t>(p.plane_size()));
  for (int64_t n = 0; n < p.images(); ++n) {
    luma(p, n, gray.data());
    for (int64_t c = 0; c < 3; ++c) {
      float* q = p.plane(n * 3 + c);
      for (int64_t i = 0; i < p.plane_size(); ++i) q[i] = blend(q[i], gray[static_cast<size_t>(i)], f);
    }
  }
  return detail::from_planes(p);
}

Tensor adjust_hue(const Tensor& img, double hue_factor) {
  KILN_CHECK(hue_factor >= -0.5 && hue_factor <= 0.5, ValueError,
             "adjust_hue: hue_factor must be in [-0.5, 0.5], got ", hue_factor);
  Planes p = detail::to_planes(img, "adjust_hue");
  detail::check_channels(p, {1, 3}, "adjust_hue");
  if (p.channels == 1) return detail::from_planes(p);
  auto shift = static_cast<float>(hue_factor);
  for (int64_t n = 0; n < p.images(); ++n) {
    float* R = p.plane(n * 3);
    float* G = p.plane(n * 3 + 1);
    float* B = p.plane(n * 3 + 2);
    for (int64_t i = 0; i < p.plane_size(); ++i) {
      float r = R[i], g = G[i], b = B[i];
      // _rgb2hsv
      float maxc = std::max({r, g, b}), minc = std::min({r, g, b});
      bool eqc = maxc == minc;
      float cr = maxc - minc;
      float s = cr / (eqc ? 1.0f : maxc);
      float div = eqc ? 1.0f : cr;
      float rc = (maxc - r) / div, gc = (maxc - g) / div, bc = (maxc - b) / div;
      float h = maxc == r ? bc - gc : maxc == g ? 2.0f + rc - bc : 4.0f + gc - rc;
      h = std::fmod(h / 6.0f + 1.0f, 1.0f);
      float v = maxc;
      // (h + hue_factor) % 1.0, Python's modulo (the result has the divisor's sign).
      h += shift;
      h -= std::floor(h);
      // _hsv2rgb
      float fi = std::floor(h * 6.0f);
      float f = h * 6.0f - fi;
      int sector = ((static_cast<int>(fi) % 6) + 6) % 6;
      float pp = std::clamp(v * (1.0f - s), 0.0f, 1.0f);
      float qq = std::clamp(v * (1.0f - s * f), 0.0f, 1.0f);
      float tt = std::clamp(v * (1.0f - s * (1.0f - f)), 0.0f, 1.0f);
      switch (sector) {
        case 0:
          r = v, g = tt, b = pp;
          break;
        case 1:
          r = qq, g = v, b = pp;
          break;
        case 2:
          r = pp, g = v, b = tt;
          break;
        case 3:
          r = pp, g = qq, b = v;
          break;
        case 4:
          r = tt, g = pp, b = v;
          break;
        default:
          r = v, g = pp, b = qq;
          break;
      }
      R[i] = r, G[i] = g, B[i] = b;
    }
  }
  return detail::from_planes(p);
}

}  // namespace kiln::vision::transforms::functional
