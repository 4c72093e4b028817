// The transform classes: option checks, random parameter draws (torchvision's get_params), and
// calls into transforms::functional.
#include <algorithm>
#include <cmath>
#include <kiln/error.hpp>
#include <sstream>

#include "transforms_impl.hpp"

namespace kiln::vision::transforms {

namespace F = functional;
using detail::size_str;

namespace {

// Uniform in [lo, hi).
double uniform(Generator& gen, double lo, double hi) {
  return lo + (hi - lo) * gen.next_double();
}
// Uniform integer in [lo, hi) (hi > lo).
int64_t randint(Generator& gen, int64_t lo, int64_t hi) {
  auto span = static_cast<uint64_t>(hi - lo);
  return lo + static_cast<int64_t>(gen.next_u64() % span);
}

std::string list_str(const std::vector<double>& v) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  return os.str() + "]";
}

std::string padding_str(const Padding& p) {
  if (p.left == p.right && p.top == p.bottom) {
    if (p.left == p.top) return std::to_string(p.left);
    return kiln::detail::concat("(", p.left, ", ", p.top, ")");
  }
  return kiln::detail::concat("(", p.left, ", ", p.top, ", ", p.right, ", ", p.bottom, ")");
}

// The image's (height, width); ShapeError below rank 3.
std::pair<int64_t, int64_t> image_size(const Tensor& img, const char* op) {
  KILN_CHECK(img.defined() && img.dim() >= 3, ShapeError, op, ": expected an image [..., C, H, W], got ",
             img.defined() ? img.shape().str() : std::string("an undefined tensor"));
  return {img.size(-2), img.size(-1)};
}

}  // namespace

std::shared_ptr<const Transform> TransformRef::wrap(std::function<Tensor(const Tensor&)> fn) {
  return std::make_shared<Lambda>(std::move(fn));
}

Tensor Compose::apply(const Tensor& img, Generator& gen) const {
  Tensor x = img;
  for (const TransformRef& t : transforms_) x = t(x, gen);
  return x;
}

std::string Compose::repr() const {
  std::string s = "Compose(\n";
  for (const TransformRef& t : transforms_) s += "    " + t->repr() + "\n";
  return s + ")";
}

Tensor ToTensor::apply(const Tensor& img, Generator&) const {
  return F::to_tensor(img);
}
Tensor ConvertImageDtype::apply(const Tensor& img, Generator&) const {
  return F::convert_image_dtype(img);
}

Normalize::Normalize(std::vector<double> mean, std::vector<double> std)
    : mean_(std::move(mean)), std_(std::move(std)) {
  KILN_CHECK(!mean_.empty() && mean_.size() == std_.size(), ValueError,
             "Normalize: expected as many means as stds (at least one), got ", mean_.size(), " and ",
             std_.size());
  for (double s : std_)
    KILN_CHECK(s != 0.0, ValueError, "Normalize: std must be non-zero, got ", list_str(std_));
}
Tensor Normalize::apply(const Tensor& img, Generator&) const {
  return F::normalize(img, mean_, std_);
}
std::string Normalize::repr() const {
  return "Normalize(mean=" + list_str(mean_) + ", std=" + list_str(std_) + ")";
}

Resize::Resize(int64_t shorter_side, ResizeOptions options)
    : size_(shorter_side), shorter_side_(true), options_(options) {
  KILN_CHECK(shorter_side > 0, ValueError, "Resize: expected a positive size, got ", shorter_side);
}
Resize::Resize(Size size, ResizeOptions options) : size_(size), shorter_side_(false), options_(options) {
  KILN_CHECK(size.height > 0 && size.width > 0, ValueError, "Resize: expected a positive size, got ",
             size_str(size));
  KILN_CHECK(!options.max_size, ValueError,
             "Resize: max_size is only allowed with a single size (the shorter side)");
}
Tensor Resize::apply(const Tensor& img, Generator&) const {
  Size target = size_;
  if (shorter_side_) {
    auto [h, w] = image_size(img, "Resize");
    target = F::resized_shorter_side(h, w, size_.height, options_.max_size);
  }
  return F::resize(img, target, options_.interpolation);
}
std::string Resize::repr() const {
  std::string s = "Resize(size=" + (shorter_side_ ? std::to_string(size_.height) : size_str(size_)) +
                  ", interpolation=" + detail::interpolation_name(options_.interpolation);
  if (options_.max_size) s += ", max_size=" + std::to_string(*options_.max_size);
  return s + ", antialias=False)";
}

Tensor CenterCrop::apply(const Tensor& img, Generator&) const {
  return F::center_crop(img, size_);
}
std::string CenterCrop::repr() const {
  return "CenterCrop(size=" + size_str(size_) + ")";
}

Tensor Pad::apply(const Tensor& img, Generator&) const {
  return F::pad(img, padding_, options_.fill, options_.padding_mode);
}
std::string Pad::repr() const {
  return kiln::detail::concat("Pad(padding=", padding_str(padding_), ", fill=", options_.fill,
                              ", padding_mode=", detail::padding_mode_name(options_.padding_mode), ")");
}

Grayscale::Grayscale(int64_t num_output_channels) : num_output_channels_(num_output_channels) {
  KILN_CHECK(num_output_channels == 1 || num_output_channels == 3, ValueError,
             "Grayscale: num_output_channels must be 1 or 3, got ", num_output_channels);
}
Tensor Grayscale::apply(const Tensor& img, Generator&) const {
  return F::rgb_to_grayscale(img, num_output_channels_);
}
std::string Grayscale::repr() const {
  return "Grayscale(num_output_channels=" + std::to_string(num_output_channels_) + ")";
}

Tensor RandomHorizontalFlip::apply(const Tensor& img, Generator& gen) const {
  return gen.next_double() < p_ ? F::hflip(img) : img;
}
std::string RandomHorizontalFlip::repr() const {
  return kiln::detail::concat("RandomHorizontalFlip(p=", p_, ")");
}
Tensor RandomVerticalFlip::apply(const Tensor& img, Generator& gen) const {
  return gen.next_double() < p_ ? F::vflip(img) : img;
}
std::string RandomVerticalFlip::repr() const {
  return kiln::detail::concat("RandomVerticalFlip(p=", p_, ")");
}

Tensor RandomCrop::apply(const Tensor& img, Generator& gen) const {
  Tensor x = img;
  if (options_.padding) x = F::pad(x, *options_.padding, options_.fill, options_.padding_mode);
  auto [h, w] = image_size(x, "RandomCrop");
  if (options_.pad_if_needed && (w < size_.width || h < size_.height)) {
    int64_t pw = std::max<int64_t>(size_.width - w, 0), ph = std::max<int64_t>(size_.height - h, 0);
    x = F::pad(x, Padding(pw, ph), options_.fill, options_.padding_mode);
    h = x.size(-2), w = x.size(-1);
  }
  KILN_CHECK(h >= size_.height && w >= size_.width, ValueError, "RandomCrop: the crop ", size_str(size_),
             " is larger than the (padded) image (", h, ", ", w, "); input shape ", img.shape(),
             "; set pad_if_needed or padding");
  if (h == size_.height && w == size_.width) return F::crop(x, 0, 0, h, w);
  int64_t top = randint(gen, 0, h - size_.height + 1);
  int64_t left = randint(gen, 0, w - size_.width + 1);
  return F::crop(x, top, left, size_.height, size_.width);
}
std::string RandomCrop::repr() const {
  std::string s = "RandomCrop(size=" + size_str(size_);
  if (options_.padding) s += ", padding=" + padding_str(*options_.padding);
  return s + ")";
}

RandomRotation::RandomRotation(double degrees, RandomRotationOptions options)
    : RandomRotation(-degrees, degrees, std::move(options)) {
  KILN_CHECK(degrees >= 0, ValueError, "RandomRotation: a single degrees value must be non-negative, got ",
             degrees);
}
RandomRotation::RandomRotation(double min_degrees, double max_degrees, RandomRotationOptions options)
    : min_(min_degrees), max_(max_degrees), options_(std::move(options)) {
  KILN_CHECK(min_ <= max_, ValueError, "RandomRotation: expected min <= max degrees, got [", min_, ", ", max_,
             "]");
}
Tensor RandomRotation::apply(const Tensor& img, Generator& gen) const {
  double angle = uniform(gen, min_, max_);
  return F::rotate(img, angle, options_.interpolation, options_.expand, options_.center, options_.fill);
}
std::string RandomRotation::repr() const {
  return kiln::detail::concat("RandomRotation(degrees=[", min_, ", ", max_,
                              "], interpolation=", detail::interpolation_name(options_.interpolation),
                              ", expand=", options_.expand ? "True" : "False",
                              ", fill=", list_str(options_.fill), ")");
}

RandomResizedCrop::RandomResizedCrop(Size size, RandomResizedCropOptions options)
    : size_(size), options_(options) {
  KILN_CHECK(size.height > 0 && size.width > 0, ValueError,
             "RandomResizedCrop: expected a positive size, got ", size_str(size));
  KILN_CHECK(options.scale[0] <= options.scale[1] && options.ratio[0] <= options.ratio[1] &&
                 options.scale[0] >= 0 && options.ratio[0] > 0,
             ValueError,
             "RandomResizedCrop: scale and ratio must be (min, max) with min <= max (ratio > 0), got scale (",
             options.scale[0], ", ", options.scale[1], "), ratio (", options.ratio[0], ", ", options.ratio[1],
             ")");
}
Tensor RandomResizedCrop::apply(const Tensor& img, Generator& gen) const {
  auto [height, width] = image_size(img, "RandomResizedCrop");
  double area = static_cast<double>(height * width);
  double log_lo = std::log(options_.ratio[0]), log_hi = std::log(options_.ratio[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    double target_area = area * uniform(gen, options_.scale[0], options_.scale[1]);
    double aspect = std::exp(uniform(gen, log_lo, log_hi));
    int64_t w = detail::round_half_even(std::sqrt(target_area * aspect));
    int64_t h = detail::round_half_even(std::sqrt(target_area / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      int64_t top = randint(gen, 0, height - h + 1), left = randint(gen, 0, width - w + 1);
      return F::resized_crop(img, top, left, h, w, size_, options_.interpolation);
    }
  }
  // Fallback: a central crop with the ratio clamped into range.
  double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  int64_t w = width, h = height;
  if (in_ratio < options_.ratio[0]) {
    h = detail::round_half_even(static_cast<double>(w) / options_.ratio[0]);
  } else if (in_ratio > options_.ratio[1]) {
    w = detail::round_half_even(static_cast<double>(h) * options_.ratio[1]);
  }
  return F::resized_crop(img, (height - h) / 2, (width - w) / 2, h, w, size_, options_.interpolation);
}
std::string RandomResizedCrop::repr() const {
  return kiln::detail::concat("RandomResizedCrop(size=", size_str(size_), ", scale=(", options_.scale[0],
                              ", ", options_.scale[1], "), ratio=(", options_.ratio[0], ", ",
                              options_.ratio[1],
                              "), interpolation=", detail::interpolation_name(options_.interpolation), ")");
}

ColorJitter::ColorJitter(ColorJitterOptions options) : options_(options) {
  KILN_CHECK(options.brightness >= 0 && options.contrast >= 0 && options.saturation >= 0, ValueError,
             "ColorJitter: brightness, contrast and saturation must be non-negative, got ",
             options.brightness, ", ", options.contrast, ", ", options.saturation);
  KILN_CHECK(options.hue >= 0 && options.hue <= 0.5, ValueError, "ColorJitter: hue must be in [0, 0.5], got ",
             options.hue);
}
Tensor ColorJitter::apply(const Tensor& img, Generator& gen) const {
  // torchvision's get_params: a random order, then one factor per enabled adjustment.
  int order[4] = {0, 1, 2, 3};
  for (int i = 3; i > 0; --i) std::swap(order[i], order[randint(gen, 0, i + 1)]);
  auto factor = [&](double v) {
    return v > 0 ? std::optional<double>(uniform(gen, std::max(0.0, 1 - v), 1 + v)) : std::nullopt;
  };
  std::optional<double> b = factor(options_.brightness), c = factor(options_.contrast),
                        s = factor(options_.saturation);
  std::optional<double> h;
  if (options_.hue > 0) h = uniform(gen, -options_.hue, options_.hue);
  Tensor x = img;
  for (int k : order) {
    if (k == 0 && b) x = F::adjust_brightness(x, *b);
    if (k == 1 && c) x = F::adjust_contrast(x, *c);
    if (k == 2 && s) x = F::adjust_saturation(x, *s);
    if (k == 3 && h) x = F::adjust_hue(x, *h);
  }
  return x;
}
std::string ColorJitter::repr() const {
  return kiln::detail::concat("ColorJitter(brightness=", options_.brightness,
                              ", contrast=", options_.contrast, ", saturation=", options_.saturation,
                              ", hue=", options_.hue, ")");
}

}  // namespace kiln::vision::transforms
