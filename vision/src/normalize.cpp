#include <kiln/vision/normalize.hpp>

#include <kiln/error.hpp>
#include <kiln/ops.hpp>

namespace kiln::vision {

Normalize::Normalize(std::vector<double> mean_in, std::vector<double> std_in)
    : mean(std::move(mean_in)), std(std::move(std_in)) {
  KILN_CHECK(!mean.empty() && mean.size() == std.size(), ValueError, "Normalize: expected as many means as stds (>= 1), got ",
             mean.size(), " and ", std.size());
  for (double s : std) KILN_CHECK(s != 0.0, ValueError, "Normalize: std must be non-zero");
}

Tensor Normalize::operator()(const Tensor& x) const {
  KILN_CHECK(x.dim() == 3 || x.dim() == 4, ShapeError, "Normalize: expected [C, H, W] or [N, C, H, W], got ", x.shape());
  int64_t channels = x.size(-3);
  KILN_CHECK(mean.size() == 1 || static_cast<int64_t>(mean.size()) == channels, ShapeError, "Normalize: ", mean.size(),
             " means for an input of ", channels, " channels (shape ", x.shape(), ")");
  std::vector<float> m, s;
  for (int64_t c = 0; c < channels; ++c) {
    m.push_back(static_cast<float>(mean_of(c)));
    s.push_back(static_cast<float>(1.0 / std_of(c)));
  }
  Tensor mt = from_vector(m, {channels, 1, 1}, x.device()).to(x.dtype());
  Tensor st = from_vector(s, {channels, 1, 1}, x.device()).to(x.dtype());
  return (x - mt) * st;
}

}  // namespace kiln::vision
