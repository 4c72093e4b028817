#include <kiln/autograd.hpp>
#include <kiln/nn/init.hpp>

#include <cmath>

namespace kiln::nn::init {

std::pair<int64_t, int64_t> fans(const Tensor& w) {
  KILN_CHECK(w.dim() >= 2, ShapeError, "init: fan in and fan out need a weight of at least 2 dimensions, got ",
             w.shape());
  int64_t receptive = 1;
  for (int64_t i = 2; i < w.dim(); ++i) receptive *= w.shape()[i];
  return {w.shape()[1] * receptive, w.shape()[0] * receptive};
}

double calculate_gain(const std::string& nl, double param) {
  if (nl == "linear" || nl == "conv2d" || nl == "sigmoid") return 1.0;
  if (nl == "tanh") return 5.0 / 3.0;
  if (nl == "relu") return std::sqrt(2.0);
  if (nl == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nl == "selu") return 0.75;
  throw ValueError("calculate_gain: unknown nonlinearity '" + nl + "'");
}

Tensor& uniform_(Tensor& t, double low, double high) {
  NoGradGuard g;
  return kiln::uniform_(t, low, high);
}
Tensor& normal_(Tensor& t, double mean, double std) {
  NoGradGuard g;
  return kiln::normal_(t, mean, std);
}
Tensor& constant_(Tensor& t, double value) {
  NoGradGuard g;
  return t.fill_(value);
}
Tensor& zeros_(Tensor& t) { return constant_(t, 0.0); }
Tensor& ones_(Tensor& t) { return constant_(t, 1.0); }

namespace {
double kaiming_std(const Tensor& t, double a, const std::string& mode, const std::string& nl) {
  auto [fan_in, fan_out] = fans(t);
  int64_t fan = mode == "fan_out" ? fan_out : fan_in;
  KILN_CHECK(fan > 0, ValueError, "kaiming init: zero fan for weight of shape ", t.shape());
  return calculate_gain(nl, a) / std::sqrt(static_cast<double>(fan));
}
}  // namespace

Tensor& kaiming_uniform_(Tensor& t, double a, const std::string& mode, const std::string& nl) {
  double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nl);
  return init::uniform_(t, -bound, bound);
}
Tensor& kaiming_normal_(Tensor& t, double a, const std::string& mode, const std::string& nl) {
  return init::normal_(t, 0.0, kaiming_std(t, a, mode, nl));
}
Tensor& xavier_uniform_(Tensor& t, double gain) {
  auto [fi, fo] = fans(t);
  double bound = gain * std::sqrt(6.0 / static_cast<double>(fi + fo));
  return init::uniform_(t, -bound, bound);
}
Tensor& xavier_normal_(Tensor& t, double gain) {
  auto [fi, fo] = fans(t);
  return init::normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fi + fo)));
}

}  // namespace kiln::nn::init
