// nn::functional: the stateless counterparts of the layers and the losses.
#pragma once

#include <kiln/ops.hpp>

#include <optional>
#include <string>

namespace kiln::nn::functional {

using kiln::adaptive_avg_pool2d;
using kiln::avg_pool2d;
using kiln::conv2d;
using kiln::embedding;
using kiln::gelu;
using kiln::leaky_relu;
using kiln::log_softmax;
using kiln::max_pool2d;
using kiln::relu;
using kiln::sigmoid;
using kiln::silu;
using kiln::softmax;
using kiln::tanh;

// x [..., in] @ weight[out, in]^T + bias[out].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
// Zeroes elements with probability p and scales the rest by 1/(1-p) when training.
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true);
// Normalizes over axis 1 of [N, C] or [N, C, ...]; in training uses batch statistics and updates
// running_mean/var (if defined) in place with momentum.
Tensor batch_norm(const Tensor& x, Tensor running_mean, Tensor running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5);
// Normalizes over the trailing axes of normalized_shape.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);
// Zero padding of the last two axes: (left, right, top, bottom).
Tensor pad2d(const Tensor& x, int64_t left, int64_t right, int64_t top, int64_t bottom, double value = 0.0);

enum class Reduction { None, Mean, Sum };
Reduction reduction_from_name(const std::string& name);  // "none", "mean", "sum"

struct CrossEntropyOptions {
  Tensor weight;               // [C] class weights, or undefined
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::Mean;
};
// input [N, C] or [N, C, d...] logits; target int64 class indices [N] / [N, d...] or float
// probabilities shaped like input.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& options = {});
struct NLLOptions {
  Tensor weight;
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::Mean;
};
// input: log-probabilities [N, C] or [N, C, d...].
Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLOptions& options = {});
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
                      double beta = 1.0);
// input: probabilities in [0, 1]; log is clamped at -100 as in PyTorch.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                            Reduction reduction = Reduction::Mean);
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                                        const Tensor& pos_weight = Tensor(), Reduction reduction = Reduction::Mean);

}  // namespace kiln::nn::functional
