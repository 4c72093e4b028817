// Geometric kernels of transforms::functional, following torchvision's tensor path (see
// Note [Transforms run on host planes] in transforms_impl.hpp).
#include <algorithm>
#include <cmath>
#include <kiln/error.hpp>
#include <numbers>
#include <sstream>

#include "transforms_impl.hpp"

namespace kiln::vision::transforms {

namespace detail {

Planes to_planes(const Tensor& img, const char* op) {
  KILN_CHECK(img.defined(), ValueError, op, ": expected an image tensor, got an undefined tensor");
  KILN_CHECK(img.dim() >= 3, ShapeError, op, ": expected an image [..., C, H, W], got shape ", img.shape());
  KILN_CHECK(is_floating(img.dtype()), DTypeError, op, ": expected a floating image (values in [0, 1]), got ",
             dtype_name(img.dtype()), "; apply ToTensor() or ConvertImageDtype() first");
  Planes p;
  const Shape& s = img.shape();
  p.lead = Shape(s.begin(), s.end() - 3);
  p.channels = s[s.size() - 3];
  p.height = s[s.size() - 2];
  p.width = s[s.size() - 1];
  p.device = img.device();
  p.data = img.to_vector<float>();
  return p;
}

Planes planes_like(const Planes& src, int64_t channels, int64_t height, int64_t width, float value) {
  Planes p;
  p.lead = src.lead;
  p.channels = channels;
  p.height = height;
  p.width = width;
  p.device = src.device;
  p.data.assign(static_cast<size_t>(p.images() * channels * height * width), value);
  return p;
}

Tensor from_planes(const Planes& p) {
  Shape shape = p.lead;
  shape.push_back(p.channels);
  shape.push_back(p.height);
  shape.push_back(p.width);
  return from_vector(p.data, shape, p.device);
}

int64_t round_half_even(double v) {
  return static_cast<int64_t>(std::nearbyint(v));
}

void check_channels(const Planes& p, std::initializer_list<int64_t> allowed, const char* op) {
  std::ostringstream want;
  for (int64_t c : allowed) {
    if (c == p.channels) return;
    want << (want.tellp() > 0 ? " or " : "") << c;
  }
  Shape shape = p.lead;
  for (int64_t d : {p.channels, p.height, p.width}) shape.push_back(d);
  throw ShapeError(
      kiln::detail::concat(op, ": expected an image of ", want.str(), " channels, got shape ", shape));
}

std::string size_str(Size s) {
  return kiln::detail::concat("(", s.height, ", ", s.width, ")");
}

std::string padding_mode_name(PaddingMode m) {
  switch (m) {
    case PaddingMode::Constant:
      return "constant";
    case PaddingMode::Edge:
      return "edge";
    case PaddingMode::Reflect:
      return "reflect";
    case PaddingMode::Symmetric:
      return "symmetric";
  }
  return "?";
}

std::string interpolation_name(InterpolationMode m) {
  return m == InterpolationMode::Nearest ? "nearest" : "bilinear";
}

}  // namespace detail

namespace functional {

using detail::Planes;

Tensor to_tensor(const Tensor& hwc) {
  KILN_CHECK(hwc.defined(), ValueError, "ToTensor: expected an image tensor, got an undefined tensor");
  if (is_floating(hwc.dtype())) return hwc.to(DType::Float32);
  KILN_CHECK(hwc.dtype() == DType::UInt8, DTypeError, "ToTensor: expected a uint8 [H, W, C] image, got ",
             dtype_name(hwc.dtype()));
  KILN_CHECK(hwc.dim() == 2 || hwc.dim() == 3, ShapeError,
             "ToTensor: expected a uint8 [H, W, C] or [H, W] image, got shape ", hwc.shape());
  int64_t h = hwc.size(0), w = hwc.size(1), c = hwc.dim() == 3 ? hwc.size(2) : 1;
  std::vector<uint8_t> src = hwc.to_vector<uint8_t>();
  std::vector<float> dst(src.size());
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t k = 0; k < c; ++k)
        dst[(k * h + y) * w + x] = static_cast<float>(src[(y * w + x) * c + k]) / 255.0f;
  return from_vector(dst, {c, h, w}, hwc.device());
}

Tensor convert_image_dtype(const Tensor& img) {
  KILN_CHECK(img.defined(), ValueError,
             "ConvertImageDtype: expected an image tensor, got an undefined tensor");
  if (is_floating(img.dtype())) return img.to(DType::Float32);
  KILN_CHECK(img.dtype() == DType::UInt8, DTypeError,
             "ConvertImageDtype: expected a uint8 or floating image, got ", dtype_name(img.dtype()));
  std::vector<uint8_t> src = img.to_vector<uint8_t>();
  std::vector<float> dst(src.size());
  for (size_t i = 0; i < src.size(); ++i) dst[i] = static_cast<float>(src[i]) / 255.0f;
  return from_vector(dst, img.shape(), img.device());
}

Tensor normalize(const Tensor& img, const std::vector<double>& mean, const std::vector<double>& std) {
  Planes p = detail::to_planes(img, "Normalize");
  KILN_CHECK(mean.size() == 1 || static_cast<int64_t>(mean.size()) == p.channels, ShapeError,
             "Normalize: ", mean.size(), " means for an image of ", p.channels, " channels (shape ",
             img.shape(), ")");
  KILN_CHECK(std.size() == mean.size(), ValueError, "Normalize: expected as many stds as means (",
             mean.size(), "), got ", std.size());
  for (int64_t n = 0; n < p.images(); ++n)
    for (int64_t c = 0; c < p.channels; ++c) {
      size_t k = mean.size() == 1 ? 0 : static_cast<size_t>(c);
      float m = static_cast<float>(mean[k]), s = static_cast<float>(std[k]);
      float* q = p.plane(n * p.channels + c);
      for (int64_t i = 0; i < p.plane_size(); ++i) q[i] = (q[i] - m) / s;
    }
  return detail::from_planes(p);
}

Size resized_shorter_side(int64_t height, int64_t width, int64_t shorter_side,
                          std::optional<int64_t> max_size) {
  KILN_CHECK(shorter_side > 0, ValueError, "Resize: expected a positive size, got ", shorter_side);
  int64_t short_side = std::min(height, width), long_side = std::max(height, width);
  int64_t new_short = shorter_side;
  // int(requested * long / short): Python's true division, then truncation.
  auto new_long = static_cast<int64_t>(static_cast<double>(shorter_side) * static_cast<double>(long_side) /
                                       static_cast<double>(short_side));
  if (max_size) {
    KILN_CHECK(*max_size > shorter_side, ValueError, "Resize: max_size (", *max_size,
               ") must be larger than the requested size (", shorter_side, ")");
    if (new_long > *max_size) {
      new_short = static_cast<int64_t>(static_cast<double>(*max_size) * static_cast<double>(new_short) /
                                       static_cast<double>(new_long));
      new_long = *max_size;
    }
  }
  return width <= height ? Size(new_long, new_short) : Size(new_short, new_long);
}

namespace {

// torch's upsample index computations (align_corners=False, no explicit scale factor).
struct LinearTap {
  int64_t i0, i1;
  float w0, w1;
};
std::vector<LinearTap> linear_taps(int64_t in, int64_t out) {
  std::vector<LinearTap> taps(static_cast<size_t>(out));
  float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t d = 0; d < out; ++d) {
    float src = std::max(scale * (static_cast<float>(d) + 0.5f) - 0.5f, 0.0f);
    auto i0 = static_cast<int64_t>(src);
    int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
    float l1 = src - static_cast<float>(i0);
    taps[static_cast<size_t>(d)] = {i0, i1, 1.0f - l1, l1};
  }
  return taps;
}
std::vector<int64_t> nearest_taps(int64_t in, int64_t out) {
  std::vector<int64_t> idx(static_cast<size_t>(out));
  float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t d = 0; d < out; ++d) {
    int64_t s = in == out       ? d
                : out == 2 * in ? d >> 1
                                : static_cast<int64_t>(std::floor(static_cast<float>(d) * scale));
    idx[static_cast<size_t>(d)] = std::min(s, in - 1);
  }
  return idx;
}

// Maps an index outside [0, n) into it for a padding mode; -1 for constant padding.
int64_t pad_index(int64_t i, int64_t n, PaddingMode mode) {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PaddingMode::Constant:
      return -1;
    case PaddingMode::Edge:
      return std::clamp<int64_t>(i, 0, n - 1);
    case PaddingMode::Reflect:
      return i < 0 ? -i : 2 * (n - 1) - i;
    case PaddingMode::Symmetric:
      return i < 0 ? -i - 1 : 2 * n - 1 - i;
  }
  return -1;
}

}  // namespace

Tensor resize(const Tensor& img, Size size, InterpolationMode interpolation) {
  Planes p = detail::to_planes(img, "Resize");
  KILN_CHECK(size.height > 0 && size.width > 0, ValueError, "Resize: expected a positive size, got ",
             detail::size_str(size));
  KILN_CHECK(p.height > 0 && p.width > 0, ShapeError, "Resize: cannot resize an empty image of shape ",
             img.shape());
  if (size.height == p.height && size.width == p.width) return detail::from_planes(p);
  Planes out = detail::planes_like(p, p.channels, size.height, size.width);
  if (interpolation == InterpolationMode::Nearest) {
    auto ys = nearest_taps(p.height, size.height), xs = nearest_taps(p.width, size.width);
    for (int64_t k = 0; k < p.num_planes(); ++k) {
      const float* s = p.plane(k);
      float* d = out.plane(k);
      for (int64_t y = 0; y < size.height; ++y)
        for (int64_t x = 0; x < size.width; ++x) *d++ = s[ys[y] * p.width + xs[x]];
    }
  } else {
    auto ys = linear_taps(p.height, size.height), xs = linear_taps(p.width, size.width);
    for (int64_t k = 0; k < p.num_planes(); ++k) {
      const float* s = p.plane(k);
      float* d = out.plane(k);
      for (int64_t y = 0; y < size.height; ++y) {
        const LinearTap& ty = ys[y];
        const float* r0 = s + ty.i0 * p.width;
        const float* r1 = s + ty.i1 * p.width;
        for (int64_t x = 0; x < size.width; ++x) {
          const LinearTap& tx = xs[x];
          *d++ = ty.w0 * (tx.w0 * r0[tx.i0] + tx.w1 * r0[tx.i1]) +
                 ty.w1 * (tx.w0 * r1[tx.i0] + tx.w1 * r1[tx.i1]);
        }
      }
    }
  }
  return detail::from_planes(out);
}

// Pads (l, t, r, b) with a mode; negative values are not accepted.
static Planes pad_planes(const Planes& p, Padding pad, double fill, PaddingMode mode) {
  KILN_CHECK(pad.left >= 0 && pad.top >= 0 && pad.right >= 0 && pad.bottom >= 0, ValueError,
             "Pad: expected non-negative padding, got (left ", pad.left, ", top ", pad.top, ", right ",
             pad.right, ", bottom ", pad.bottom, ")");
  if (mode == PaddingMode::Reflect || mode == PaddingMode::Symmetric) {
    int64_t slack = mode == PaddingMode::Reflect ? 1 : 0;
    KILN_CHECK(
        std::max(pad.left, pad.right) <= p.width - slack && std::max(pad.top, pad.bottom) <= p.height - slack,
        ValueError, "Pad: ", detail::padding_mode_name(mode), " padding of (left ", pad.left, ", top ",
        pad.top, ", right ", pad.right, ", bottom ", pad.bottom, ") needs each pad ",
        slack ? "smaller than" : "at most", " the image's extent on that axis; the image is ", p.height, "x",
        p.width);
  }
  if (mode == PaddingMode::Edge)
    KILN_CHECK(p.height > 0 && p.width > 0, ShapeError, "Pad: edge padding of an empty image");
  int64_t h = p.height + pad.top + pad.bottom, w = p.width + pad.left + pad.right;
  Planes out = detail::planes_like(p, p.channels, h, w, static_cast<float>(fill));
  std::vector<int64_t> ys(static_cast<size_t>(h)), xs(static_cast<size_t>(w));
  for (int64_t y = 0; y < h; ++y) ys[y] = pad_index(y - pad.top, p.height, mode);
  for (int64_t x = 0; x < w; ++x) xs[x] = pad_index(x - pad.left, p.width, mode);
  for (int64_t k = 0; k < p.num_planes(); ++k) {
    const float* s = p.plane(k);
    float* d = out.plane(k);
    for (int64_t y = 0; y < h; ++y) {
      if (ys[y] < 0) continue;
      for (int64_t x = 0; x < w; ++x)
        if (xs[x] >= 0) d[y * w + x] = s[ys[y] * p.width + xs[x]];
    }
  }
  return out;
}

Tensor pad(const Tensor& img, Padding padding, double fill, PaddingMode mode) {
  return detail::from_planes(pad_planes(detail::to_planes(img, "Pad"), padding, fill, mode));
}

static Planes crop_planes(const Planes& p, int64_t top, int64_t left, int64_t height, int64_t width) {
  KILN_CHECK(height >= 0 && width >= 0, ValueError, "crop: expected a non-negative size, got ", height, "x",
             width);
  Planes out = detail::planes_like(p, p.channels, height, width);
  for (int64_t k = 0; k < p.num_planes(); ++k) {
    const float* s = p.plane(k);
    float* d = out.plane(k);
    for (int64_t y = 0; y < height; ++y) {
      int64_t sy = top + y;
      if (sy < 0 || sy >= p.height) continue;
      for (int64_t x = 0; x < width; ++x) {
        int64_t sx = left + x;
        if (sx >= 0 && sx < p.width) d[y * width + x] = s[sy * p.width + sx];
      }
    }
  }
  return out;
}

Tensor crop(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width) {
  return detail::from_planes(crop_planes(detail::to_planes(img, "crop"), top, left, height, width));
}

Tensor center_crop(const Tensor& img, Size size) {
  Planes p = detail::to_planes(img, "CenterCrop");
  KILN_CHECK(size.height > 0 && size.width > 0, ValueError, "CenterCrop: expected a positive size, got ",
             detail::size_str(size));
  if (size.width > p.width || size.height > p.height) {
    // torchvision pads a too-small image with zeros first (the extra pixel, if odd, right/bottom).
    auto half = [](int64_t want, int64_t have, int64_t extra) {
      return want > have ? (want - have + extra) / 2 : 0;
    };
    Padding pad(half(size.width, p.width, 0), half(size.height, p.height, 0), half(size.width, p.width, 1),
                half(size.height, p.height, 1));
    p = pad_planes(p, pad, 0.0, PaddingMode::Constant);
    if (p.width == size.width && p.height == size.height) return detail::from_planes(p);
  }
  int64_t top = detail::round_half_even(static_cast<double>(p.height - size.height) / 2.0);
  int64_t left = detail::round_half_even(static_cast<double>(p.width - size.width) / 2.0);
  return detail::from_planes(crop_planes(p, top, left, size.height, size.width));
}

Tensor resized_crop(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width, Size size,
                    InterpolationMode interpolation) {
  return resize(crop(img, top, left, height, width), size, interpolation);
}

static Tensor flip(const Tensor& img, bool horizontal) {
  Planes p = detail::to_planes(img, horizontal ? "hflip" : "vflip");
  Planes out = detail::planes_like(p, p.channels, p.height, p.width);
  for (int64_t k = 0; k < p.num_planes(); ++k) {
    const float* s = p.plane(k);
    float* d = out.plane(k);
    for (int64_t y = 0; y < p.height; ++y)
      for (int64_t x = 0; x < p.width; ++x) {
        int64_t sy = horizontal ? y : p.height - 1 - y, sx = horizontal ? p.width - 1 - x : x;
        d[y * p.width + x] = s[sy * p.width + sx];
      }
  }
  return detail::from_planes(out);
}
Tensor hflip(const Tensor& img) {
  return flip(img, true);
}
Tensor vflip(const Tensor& img) {
  return flip(img, false);
}

// Note [Rotation as torchvision does it]: torchvision's tensor rotate builds the inverse affine
// matrix [cos r, sin r, tx; -sin r, cos r, ty] with r = radians(-angle) about the centre (offsets
// relative to the image centre), maps each output pixel centre (x - ow/2 + 0.5, y - oh/2 + 0.5)
// through it, and samples with grid_sample(align_corners=False, padding_mode="zeros"), whose
// source pixel is then x' + w/2 - 0.5. With a fill, a channel of ones is sampled alongside and the
// result blended: bilinear img * m + (1 - m) * fill, nearest fill where m < 0.5. Float32 throughout,
// like torchvision, so that nearest-neighbour ties fall the same way.
Tensor rotate(const Tensor& img, double angle, InterpolationMode interpolation, bool expand,
              std::optional<std::array<double, 2>> center, const std::vector<double>& fill) {
  Planes p = detail::to_planes(img, "rotate");
  KILN_CHECK(fill.empty() || fill.size() == 1 || static_cast<int64_t>(fill.size()) == p.channels, ValueError,
             "rotate: expected one fill value or one per channel (", p.channels, "), got ", fill.size());
  double cx = 0.0, cy = 0.0;
  if (center) {
    cx = (*center)[0] - static_cast<double>(p.width) * 0.5;
    cy = (*center)[1] - static_cast<double>(p.height) * 0.5;
  }
  double r = -angle * std::numbers::pi / 180.0;
  double m[6] = {std::cos(r), std::sin(r), 0.0, -std::sin(r), std::cos(r), 0.0};
  m[2] += m[0] * -cx + m[1] * -cy + cx;
  m[5] += m[3] * -cx + m[4] * -cy + cy;
  float mf[6];
  for (int i = 0; i < 6; ++i) mf[i] = static_cast<float>(m[i]);

  int64_t ow = p.width, oh = p.height;
  if (expand) {
    float xs[4] = {-0.5f * p.width, -0.5f * p.width, 0.5f * p.width, 0.5f * p.width};
    float ys[4] = {-0.5f * p.height, 0.5f * p.height, 0.5f * p.height, -0.5f * p.height};
    float lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (int i = 0; i < 4; ++i) {
      float nx = mf[0] * xs[i] + mf[1] * ys[i] + mf[2], ny = mf[3] * xs[i] + mf[4] * ys[i] + mf[5];
      lo[0] = std::min(lo[0], nx), hi[0] = std::max(hi[0], nx);
      lo[1] = std::min(lo[1], ny), hi[1] = std::max(hi[1], ny);
    }
    // Shifted to [0, w] x [0, h] before rounding outward, as torchvision (and PIL) do.
    lo[0] += 0.5f * p.width, hi[0] += 0.5f * p.width;
    lo[1] += 0.5f * p.height, hi[1] += 0.5f * p.height;
    const float tol = 1e-4f;
    auto size = [&](int a) {
      float cmax = std::ceil(std::trunc(hi[a] / tol) * tol), cmin = std::floor(std::trunc(lo[a] / tol) * tol);
      return static_cast<int64_t>(cmax - cmin);
    };
    ow = size(0);
    oh = size(1);
  }

  Planes out = detail::planes_like(p, p.channels, oh, ow);
  const float half_w = 0.5f * static_cast<float>(p.width), half_h = 0.5f * static_cast<float>(p.height);
  const bool nearest = interpolation == InterpolationMode::Nearest;
  std::vector<float> mask(static_cast<size_t>(oh * ow), 0.0f);
  // Per output pixel: up to four (source offset, weight) taps, shared by every plane.
  struct Tap {
    int64_t idx[4];
    float w[4];
    int n = 0;
  };
  std::vector<Tap> taps(static_cast<size_t>(oh * ow));
  for (int64_t y = 0; y < oh; ++y) {
    float by = -0.5f * static_cast<float>(oh) + 0.5f + static_cast<float>(y);
    for (int64_t x = 0; x < ow; ++x) {
      float bx = -0.5f * static_cast<float>(ow) + 0.5f + static_cast<float>(x);
      float gx = bx * (mf[0] / half_w) + by * (mf[1] / half_w) + mf[2] / half_w;
      float gy = bx * (mf[3] / half_h) + by * (mf[4] / half_h) + mf[5] / half_h;
      float ix = ((gx + 1.0f) * static_cast<float>(p.width) - 1.0f) / 2.0f;
      float iy = ((gy + 1.0f) * static_cast<float>(p.height) - 1.0f) / 2.0f;
      Tap& t = taps[static_cast<size_t>(y * ow + x)];
      float covered = 0.0f;
      auto add = [&](int64_t sy, int64_t sx, float w) {
        if (sy < 0 || sy >= p.height || sx < 0 || sx >= p.width) return;
        t.idx[t.n] = sy * p.width + sx;
        t.w[t.n++] = w;
        covered += w;
      };
      if (nearest) {
        add(static_cast<int64_t>(std::nearbyint(iy)), static_cast<int64_t>(std::nearbyint(ix)), 1.0f);
      } else {
        float x0 = std::floor(ix), y0 = std::floor(iy);
        float fx = ix - x0, fy = iy - y0;
        auto sx = static_cast<int64_t>(x0), sy = static_cast<int64_t>(y0);
        add(sy, sx, (1 - fx) * (1 - fy));
        add(sy, sx + 1, fx * (1 - fy));
        add(sy + 1, sx, (1 - fx) * fy);
        add(sy + 1, sx + 1, fx * fy);
      }
      mask[static_cast<size_t>(y * ow + x)] = covered;
    }
  }
  for (int64_t k = 0; k < p.num_planes(); ++k) {
    const float* s = p.plane(k);
    float* d = out.plane(k);
    int64_t c = k % p.channels;
    float f =
        fill.empty() ? 0.0f : static_cast<float>(fill.size() == 1 ? fill[0] : fill[static_cast<size_t>(c)]);
    for (int64_t i = 0; i < oh * ow; ++i) {
      const Tap& t = taps[static_cast<size_t>(i)];
      float v = 0.0f;
      for (int j = 0; j < t.n; ++j) v += t.w[j] * s[t.idx[j]];
      if (!fill.empty()) {
        float mk = mask[static_cast<size_t>(i)];
        v = nearest ? (mk < 0.5f ? f : v) : v * mk + (1.0f - mk) * f;
      }
      d[i] = v;
    }
  }
  return detail::from_planes(out);
}

}  // namespace functional

}  // namespace kiln::vision::transforms
