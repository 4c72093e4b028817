// Parameter initialisers (torch.nn.init). All work in place, without recording gradients.
#pragma once

#include <kiln/random.hpp>
#include <kiln/tensor.hpp>

#include <string>
#include <utility>

namespace kiln::nn::init {

// (fan_in, fan_out) of a weight: [out, in] or [out, in/groups, kh, kw].
std::pair<int64_t, int64_t> fans(const Tensor& weight);
double calculate_gain(const std::string& nonlinearity, double param = 0.01);
Tensor& uniform_(Tensor& t, double low = 0.0, double high = 1.0);
Tensor& normal_(Tensor& t, double mean = 0.0, double std = 1.0);
Tensor& constant_(Tensor& t, double value);
Tensor& zeros_(Tensor& t);
Tensor& ones_(Tensor& t);
// He initialisation; a is the negative slope of the rectifier after this layer.
Tensor& kaiming_uniform_(Tensor& t, double a = 0.0, const std::string& mode = "fan_in",
                         const std::string& nonlinearity = "leaky_relu");
Tensor& kaiming_normal_(Tensor& t, double a = 0.0, const std::string& mode = "fan_in",
                        const std::string& nonlinearity = "leaky_relu");
Tensor& xavier_uniform_(Tensor& t, double gain = 1.0);
Tensor& xavier_normal_(Tensor& t, double gain = 1.0);

}  // namespace kiln::nn::init
