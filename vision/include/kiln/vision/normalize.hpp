// Normalize(mean, std): (x - mean[c]) / std[c] per channel, as torchvision.transforms.Normalize.
#pragma once

#include <kiln/tensor.hpp>

#include <vector>

namespace kiln::vision {

struct Normalize {
  std::vector<double> mean, std;  // one per channel, or one for all; std must be non-zero

  Normalize(double mean, double std) : mean{mean}, std{std} {}
  Normalize(std::vector<double> mean, std::vector<double> std);
  // x: [C, H, W] or [N, C, H, W] floating. ShapeError when C disagrees with mean's length (> 1).
  Tensor operator()(const Tensor& x) const;
  // The mean and std of channel c (the single values when one was given).
  double mean_of(int64_t c) const { return mean.size() == 1 ? mean[0] : mean[static_cast<size_t>(c)]; }
  double std_of(int64_t c) const { return std.size() == 1 ? std[0] : std[static_cast<size_t>(c)]; }
};

}  // namespace kiln::vision
