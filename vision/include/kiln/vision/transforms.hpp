// Image transforms with torchvision.transforms' names and semantics.
//
//   namespace T = kiln::vision::transforms;
//   T::Compose train_tf{T::RandomCrop(32, {.padding = 4}), T::RandomHorizontalFlip(),
//                       T::Normalize({0.4914, 0.4822, 0.4465}, {0.2470, 0.2435, 0.2616})};
//   Tensor x = train_tf(image);             // random draws from kiln::default_generator()
//   Generator gen(42);
//   Tensor y = train_tf(image, gen);        // ... or from gen: the same seed repeats exactly
//
// The image representation (docs/vision.md): a float32 tensor [C, H, W] (or [..., C, H, W]: every
// leading index is transformed alike) with values in [0, 1], channels in RGB order: what
// torchvision calls a tensor image. ToTensor turns a uint8 [H, W, C] array (what a decoder
// returns, like a PIL image or NumPy array) into one; ConvertImageDtype a uint8 [C, H, W] one
// (what read_image returns). The other transforms need a floating image and return float32 on the
// input's device (the arithmetic runs on the host).
//
// Matching torchvision (checked by tests/vision/transforms against fixtures made with torchvision
// 0.15, see scripts/make_vision_fixtures.py): the outputs equal torchvision's tensor path on the
// same float image within 1/255. Resize follows torch's interpolate with antialias=False (the
// tensor path's default before torchvision 0.17), not PIL's antialiased resampling.
//
// Random transforms draw from the Generator passed to operator()(img, gen), or from
// kiln::default_generator() (seeded by kiln::manual_seed) without one. The draws follow
// torchvision's distributions, not its exact random stream.
//
// Errors: ShapeError for an image of the wrong rank or channel count (the message names the
// transform and the shape), DTypeError for a non-floating image where one is needed, ValueError
// for bad options (a crop larger than the image, negative sizes, a reflect pad wider than the image).
#pragma once

#include <array>
#include <functional>
#include <initializer_list>
#include <kiln/random.hpp>
#include <kiln/tensor.hpp>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace kiln::vision::transforms {

enum class InterpolationMode { Nearest, Bilinear };
enum class PaddingMode { Constant, Edge, Reflect, Symmetric };

// Height and width; one number means a square (Size{32}) except where a transform says otherwise.
struct Size {
  int64_t height = 0, width = 0;
  Size(int64_t side) : height(side), width(side) {}  // NOLINT: implicit, so RandomCrop(32) reads well
  Size(int64_t h, int64_t w) : height(h), width(w) {}
};

// Padding of the left, top, right and bottom edges: one number for all four, two for
// (left/right, top/bottom), or four, as torchvision's Pad.
struct Padding {
  int64_t left = 0, top = 0, right = 0, bottom = 0;
  Padding() = default;
  Padding(int64_t all) : left(all), top(all), right(all), bottom(all) {}  // NOLINT
  Padding(int64_t horizontal, int64_t vertical)
      : left(horizontal), top(vertical), right(horizontal), bottom(vertical) {}
  Padding(int64_t l, int64_t t, int64_t r, int64_t b) : left(l), top(t), right(r), bottom(b) {}
};

// ---- the transform interface ----------------------------------------------------------------

class Transform {
 public:
  virtual ~Transform() = default;
  // The transformed image; random transforms draw from gen. Must be safe to call from several
  // threads at once (the Generator locks).
  virtual Tensor apply(const Tensor& img, Generator& gen) const = 0;
  // torchvision-style text, e.g. "RandomCrop(size=(32, 32), padding=4)".
  virtual std::string repr() const = 0;

  Tensor operator()(const Tensor& img) const { return apply(img, default_generator()); }
  Tensor operator()(const Tensor& img, Generator& gen) const { return apply(img, gen); }
};

// A shared handle to any transform; built implicitly from a transform object (copied) or from a
// function Tensor(const Tensor&) (wrapped in a Lambda), so Compose{...} takes either.
class TransformRef {
 public:
  TransformRef() = default;
  template <typename T, typename = std::enable_if_t<std::is_base_of_v<Transform, std::decay_t<T>>>>
  TransformRef(T&& transform)  // NOLINT: implicit by design
      : ptr_(std::make_shared<std::decay_t<T>>(std::forward<T>(transform))) {}
  TransformRef(std::shared_ptr<const Transform> ptr) : ptr_(std::move(ptr)) {}  // NOLINT
  template <typename Fn, std::enable_if_t<!std::is_base_of_v<Transform, std::decay_t<Fn>> &&
                                              std::is_invocable_r_v<Tensor, Fn, const Tensor&>,
                                          int> = 0>
  TransformRef(Fn&& fn)  // NOLINT: a lambda or function becomes a Lambda transform
      : TransformRef(wrap(std::function<Tensor(const Tensor&)>(std::forward<Fn>(fn)))) {}

  bool defined() const { return ptr_ != nullptr; }
  const Transform& operator*() const { return *ptr_; }
  const Transform* operator->() const { return ptr_.get(); }
  Tensor operator()(const Tensor& img) const { return (*ptr_)(img); }
  Tensor operator()(const Tensor& img, Generator& gen) const { return ptr_->apply(img, gen); }

 private:
  static std::shared_ptr<const Transform> wrap(std::function<Tensor(const Tensor&)> fn);
  std::shared_ptr<const Transform> ptr_;
};

// Applies transforms in order, passing the same generator to each.
class Compose : public Transform {
 public:
  Compose(std::initializer_list<TransformRef> transforms) : transforms_(transforms) {}
  explicit Compose(std::vector<TransformRef> transforms) : transforms_(std::move(transforms)) {}
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string repr() const override;
  const std::vector<TransformRef>& transforms() const { return transforms_; }

 private:
  std::vector<TransformRef> transforms_;
};

// A user function as a transform (deterministic; it gets no generator).
class Lambda : public Transform {
 public:
  explicit Lambda(std::function<Tensor(const Tensor&)> fn, std::string name = "Lambda")
      : fn_(std::move(fn)), name_(std::move(name)) {}
  Tensor apply(const Tensor& img, Generator&) const override { return fn_(img); }
  std::string repr() const override { return name_ + "()"; }

 private:
  std::function<Tensor(const Tensor&)> fn_;
  std::string name_;
};

// ---- conversions ----------------------------------------------------------------------------

// uint8 [H, W, C] or [H, W] -> float32 [C, H, W] divided by 255 (torchvision's ToTensor on an
// ndarray). A floating image passes through unchanged, so Compose{ToTensor(), ...} also works on
// what ImageFolder returns. DTypeError for other dtypes, ShapeError for another rank.
class ToTensor : public Transform {
 public:
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string repr() const override { return "ToTensor()"; }
};

// uint8 [..., C, H, W] -> float32 divided by 255 (ConvertImageDtype(torch.float32)); floating
// images pass through as float32.
class ConvertImageDtype : public Transform {
 public:
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string repr() const override { return "ConvertImageDtype(float32)"; }
};

// (x - mean[c]) / std[c] per channel. One value applies to every channel.
class Normalize : public Transform {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std);
  Normalize(double mean, double std) : Normalize(std::vector<double>{mean}, std::vector<double>{std}) {}
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string repr() const override;

 private:
  std::vector<double> mean_, std_;
};

// ---- deterministic geometry -----------------------------------------------------------------

struct ResizeOptions {
  InterpolationMode interpolation = InterpolationMode::Bilinear;
  std::optional<int64_t> max_size;  // with an int size: the longer side is capped at this
};
// Resize to (height, width), or with one int (Resize::shorter(n)) the shorter side to n keeping
// the aspect ratio (longer = int(n * long / short), as torchvision). No antialiasing.
class Resize : public Transform {
 public:
  Resize(int64_t shorter_side, ResizeOptions options = {});  // torchvision's Resize(int)
  Resize(Size size, ResizeOptions options = {});             // torchvision's Resize((h, w))
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string repr() const override;

 private:
  Size size_;
  bool shorter_side_;
  ResizeOptions options_;
};

// The central crop of the given size; an image smaller than that is first padded with zeros.
class CenterCrop : public Transform {
 public:
  explicit CenterCrop(Size size) : size_(size) {}
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string repr() const override;

 private:
  Size size_;
};

struct PadOptions {
  double fill = 0.0;  // for PaddingMode::Constant
  PaddingMode padding_mode = PaddingMode::Constant;
};
class Pad : public Transform {
 public:
  explicit Pad(Padding padding, PadOptions options = {}) : padding_(padding), options_(options) {}
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string repr() const override;

 private:
  Padding padding_;
  PadOptions options_;
};

// RGB -> luma 0.2989 R + 0.587 G + 0.114 B, as 1 or 3 identical channels. A 1-channel image is kept.
class Grayscale : public Transform {
 public:
  explicit Grayscale(int64_t num_output_channels = 1);
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string repr() const override;

 private:
  int64_t num_output_channels_;
};

// ---- random transforms ------------------------------------------------------------------------

// Flips with probability p.
class RandomHorizontalFlip : public Transform {
 public:
  explicit RandomHorizontalFlip(double p = 0.5) : p_(p) {}
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string repr() const override;

 private:
  double p_;
};
class RandomVerticalFlip : public Transform {
 public:
  explicit RandomVerticalFlip(double p = 0.5) : p_(p) {}
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string repr() const override;

 private:
  double p_;
};

struct RandomCropOptions {
  std::optional<Padding> padding;  // applied first
  bool pad_if_needed = false;      // pad an image smaller than the crop up to its size
  double fill = 0.0;
  PaddingMode padding_mode = PaddingMode::Constant;
};
// A crop of the given size at a uniformly drawn position.
class RandomCrop : public Transform {
 public:
  explicit RandomCrop(Size size, RandomCropOptions options = {}) : size_(size), options_(options) {}
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string repr() const override;

 private:
  Size size_;
  RandomCropOptions options_;
};

struct RandomRotationOptions {
  InterpolationMode interpolation = InterpolationMode::Nearest;
  bool expand = false;                          // grow the output to hold the whole rotated image
  std::optional<std::array<double, 2>> center;  // (x, y) in pixels; default the image centre
  std::vector<double> fill = {0.0};             // one value, or one per channel, for the area outside
};
// Rotates by an angle (degrees, counter-clockwise) drawn uniformly from [-degrees, degrees]
// (or [min, max] with the two-value constructor).
class RandomRotation : public Transform {
 public:
  explicit RandomRotation(double degrees, RandomRotationOptions options = {});
  RandomRotation(double min_degrees, double max_degrees, RandomRotationOptions options = {});
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string repr() const override;

 private:
  double min_, max_;
  RandomRotationOptions options_;
};

struct RandomResizedCropOptions {
  std::array<double, 2> scale = {0.08, 1.0};             // range of the crop's area, relative to the image
  std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0};  // range of the crop's width / height
  InterpolationMode interpolation = InterpolationMode::Bilinear;
};
// A crop of random area and aspect ratio resized to size (torchvision's algorithm: ten tries, then
// a central crop).
class RandomResizedCrop : public Transform {
 public:
  explicit RandomResizedCrop(Size size, RandomResizedCropOptions options = {});
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string repr() const override;

 private:
  Size size_;
  RandomResizedCropOptions options_;
};

struct ColorJitterOptions {
  double brightness = 0.0;  // factor drawn from [max(0, 1 - b), 1 + b]; 0 = untouched
  double contrast = 0.0;    // likewise
  double saturation = 0.0;  // likewise
  double hue = 0.0;         // shift drawn from [-h, h], 0 <= h <= 0.5
};
// Brightness, contrast, saturation and hue changes in a random order (torchvision's ColorJitter).
class ColorJitter : public Transform {
 public:
  explicit ColorJitter(ColorJitterOptions options);
  ColorJitter(double brightness, double contrast = 0.0, double saturation = 0.0, double hue = 0.0)
      : ColorJitter(ColorJitterOptions{brightness, contrast, saturation, hue}) {}
  Tensor apply(const Tensor& img, Generator& gen) const override;
  std::string repr() const override;

 private:
  ColorJitterOptions options_;
};

// ---- functional forms (torchvision.transforms.functional) -------------------------------------
// Each takes a floating [..., C, H, W] image unless it says otherwise and returns float32.
namespace functional {

Tensor to_tensor(const Tensor& hwc_uint8);
Tensor convert_image_dtype(const Tensor& img);
Tensor normalize(const Tensor& img, const std::vector<double>& mean, const std::vector<double>& std);
Tensor resize(const Tensor& img, Size size, InterpolationMode interpolation = InterpolationMode::Bilinear);
// The output size torchvision's Resize(int shorter_side, max_size) gives for an image of (h, w).
Size resized_shorter_side(int64_t height, int64_t width, int64_t shorter_side,
                          std::optional<int64_t> max_size = {});
// Rows top..top+height, columns left..left+width; parts outside the image are zero.
Tensor crop(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width);
Tensor center_crop(const Tensor& img, Size size);
Tensor resized_crop(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width, Size size,
                    InterpolationMode interpolation = InterpolationMode::Bilinear);
Tensor pad(const Tensor& img, Padding padding, double fill = 0.0, PaddingMode mode = PaddingMode::Constant);
Tensor hflip(const Tensor& img);
Tensor vflip(const Tensor& img);
// Counter-clockwise by angle degrees about center (x, y in pixels; default the image centre), as
// torchvision's rotate: the pixel grid is sampled with grid_sample(align_corners=False) and zero
// padding. With a fill (one value or one per channel) the area outside is blended with it through
// a sampled coverage mask, as torchvision does for fill != None (RandomRotation always passes one).
Tensor rotate(const Tensor& img, double angle, InterpolationMode interpolation = InterpolationMode::Nearest,
              bool expand = false, std::optional<std::array<double, 2>> center = {},
              const std::vector<double>& fill = {});
Tensor rgb_to_grayscale(const Tensor& img, int64_t num_output_channels = 1);
Tensor adjust_brightness(const Tensor& img, double factor);
Tensor adjust_contrast(const Tensor& img, double factor);
Tensor adjust_saturation(const Tensor& img, double factor);
Tensor adjust_hue(const Tensor& img, double hue_factor);  // -0.5 <= hue_factor <= 0.5

}  // namespace functional

}  // namespace kiln::vision::transforms
