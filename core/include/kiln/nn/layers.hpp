// Built-in layers. Each layer has an Impl (the Module) and a handle of the layer's name:
//   nn::Conv2d conv(1, 6, 5, {.padding = 2});   conv->weight   conv(x)
// Default initialisation matches PyTorch's for each layer.
#pragma once

#include <kiln/nn/module.hpp>
#include <kiln/ops.hpp>

#include <array>
#include <initializer_list>
#include <optional>
#include <string>

namespace kiln::nn {

// Two extents (height, width) given as one number or a pair: `{.padding = 2}`, `{.stride = {2, 1}}`.
struct Size2 {
  Size2(int64_t v = 0) : v_{v, v} {}  // NOLINT: implicit by design
  Size2(int64_t h, int64_t w) : v_{h, w} {}
  Size2(std::array<int64_t, 2> a) : v_(a) {}  // NOLINT
  int64_t operator[](size_t i) const { return v_[i]; }
  int64_t& operator[](size_t i) { return v_[i]; }
  operator std::array<int64_t, 2>() const { return v_; }  // NOLINT
  std::array<int64_t, 2> arr() const { return v_; }
  bool operator==(const Size2& o) const { return v_ == o.v_; }

 private:
  std::array<int64_t, 2> v_;
};
inline void to_json(Config& j, const Size2& s) { j = s.arr(); }

#define KILN_DECLARE_HOLDER(Name)                                                   \
  class Name : public ModuleHolder<Name##Impl> {                                   \
   public:                                                                         \
    using ModuleHolder<Name##Impl>::ModuleHolder;                                  \

// ---------------------------------------------------------------- containers
class SequentialImpl : public Module {
 public:
  SequentialImpl() = default;
  explicit SequentialImpl(std::initializer_list<ModulePtr> layers);
  void push_back(ModulePtr layer);
  void push_back(const std::string& name, ModulePtr layer);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
  size_t size() const { return named_children().size(); }
  ModulePtr operator[](size_t i) const { return named_children().at(i).second; }
};
KILN_DECLARE_HOLDER(Sequential)
  Sequential() : ModuleHolder(std::make_shared<SequentialImpl>()) {}
  Sequential(std::initializer_list<ModulePtr> layers) : ModuleHolder(std::make_shared<SequentialImpl>(layers)) {}
};

class ModuleListImpl : public Module {
 public:
  ModuleListImpl() = default;
  explicit ModuleListImpl(std::initializer_list<ModulePtr> layers);
  void push_back(ModulePtr layer);
  Tensor forward(const Tensor&) override;  // throws: a ModuleList is not callable
  std::string type_name() const override { return "ModuleList"; }
  size_t size() const { return named_children().size(); }
  ModulePtr operator[](size_t i) const { return named_children().at(i).second; }
};
KILN_DECLARE_HOLDER(ModuleList)
  ModuleList() : ModuleHolder(std::make_shared<ModuleListImpl>()) {}
  ModuleList(std::initializer_list<ModulePtr> layers) : ModuleHolder(std::make_shared<ModuleListImpl>(layers)) {}
};

class ModuleDictImpl : public Module {
 public:
  ModuleDictImpl() = default;
  void insert(const std::string& key, ModulePtr layer);
  ModulePtr operator[](const std::string& key) const;
  bool contains(const std::string& key) const { return child(key) != nullptr; }
  Tensor forward(const Tensor&) override;  // throws
  std::string type_name() const override { return "ModuleDict"; }
};
KILN_DECLARE_HOLDER(ModuleDict)
  ModuleDict() : ModuleHolder(std::make_shared<ModuleDictImpl>()) {}
};

// ---------------------------------------------------------------- linear and convolution
struct LinearOptions {
  bool bias = true;
};
class LinearImpl : public Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features, LinearOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  Config config() const override;
  std::string extra_repr() const override;
  void reset_parameters();
  int64_t in_features, out_features;
  LinearOptions options;
  Tensor weight, bias;
};
KILN_DECLARE_HOLDER(Linear)
  Linear(int64_t in, int64_t out, LinearOptions o = {}) : ModuleHolder(std::make_shared<LinearImpl>(in, out, o)) {}
};

struct Conv2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  std::string padding_preset;  // "same" (keep H, W at stride 1, as PyTorch) or "valid" (0)
  Size2 dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};
class Conv2dImpl : public Module {
 public:
  Conv2dImpl(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel, Conv2dOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2d"; }
  Config config() const override;
  std::string extra_repr() const override;
  void reset_parameters();
  int64_t in_channels, out_channels;
  std::array<int64_t, 2> kernel;
  Conv2dOptions options;
  Tensor weight, bias;
};
KILN_DECLARE_HOLDER(Conv2d)
  Conv2d(int64_t in, int64_t out, int64_t k, Conv2dOptions o = {})
      : ModuleHolder(std::make_shared<Conv2dImpl>(in, out, std::array<int64_t, 2>{k, k}, o)) {}
  Conv2d(int64_t in, int64_t out, std::array<int64_t, 2> k, Conv2dOptions o = {})
      : ModuleHolder(std::make_shared<Conv2dImpl>(in, out, k, o)) {}
};

// ---------------------------------------------------------------- pooling
struct PoolOptions {
  Size2 stride = 0;  // 0: the kernel size
  Size2 padding = 0;
  Size2 dilation = 1;  // max pool only
  bool ceil_mode = false;
  bool count_include_pad = true;  // avg pool only
};
class MaxPool2dImpl : public Module {
 public:
  MaxPool2dImpl(std::array<int64_t, 2> kernel, PoolOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "MaxPool2d"; }
  Config config() const override;
  std::string extra_repr() const override;
  Pool2dParams params;
};
KILN_DECLARE_HOLDER(MaxPool2d)
  MaxPool2d(int64_t k, PoolOptions o = {}) : ModuleHolder(std::make_shared<MaxPool2dImpl>(std::array<int64_t, 2>{k, k}, o)) {}
  MaxPool2d(std::array<int64_t, 2> k, PoolOptions o = {}) : ModuleHolder(std::make_shared<MaxPool2dImpl>(k, o)) {}
};
class AvgPool2dImpl : public Module {
 public:
  AvgPool2dImpl(std::array<int64_t, 2> kernel, PoolOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "AvgPool2d"; }
  Config config() const override;
  std::string extra_repr() const override;
  Pool2dParams params;
};
KILN_DECLARE_HOLDER(AvgPool2d)
  AvgPool2d(int64_t k, PoolOptions o = {}) : ModuleHolder(std::make_shared<AvgPool2dImpl>(std::array<int64_t, 2>{k, k}, o)) {}
  AvgPool2d(std::array<int64_t, 2> k, PoolOptions o = {}) : ModuleHolder(std::make_shared<AvgPool2dImpl>(k, o)) {}
};
class AdaptiveAvgPool2dImpl : public Module {
 public:
  explicit AdaptiveAvgPool2dImpl(std::array<int64_t, 2> output_size) : output_size(output_size) {}
  Tensor forward(const Tensor& x) override { return adaptive_avg_pool2d(x, output_size); }
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  Config config() const override { return {{"output_size", output_size}}; }
  std::string extra_repr() const override;
  std::array<int64_t, 2> output_size;
};
KILN_DECLARE_HOLDER(AdaptiveAvgPool2d)
  AdaptiveAvgPool2d(int64_t s) : ModuleHolder(std::make_shared<AdaptiveAvgPool2dImpl>(std::array<int64_t, 2>{s, s})) {}
  AdaptiveAvgPool2d(std::array<int64_t, 2> s) : ModuleHolder(std::make_shared<AdaptiveAvgPool2dImpl>(s)) {}
};

// ---------------------------------------------------------------- normalization
struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = true;
  bool track_running_stats = true;
};
class BatchNormImpl : public Module {
 public:
  BatchNormImpl(int64_t num_features, int dims, BatchNormOptions options);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return dims == 1 ? "BatchNorm1d" : "BatchNorm2d"; }
  Config config() const override;
  std::string extra_repr() const override;
  int64_t num_features;
  int dims;
  BatchNormOptions options;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};
class BatchNorm1d : public ModuleHolder<BatchNormImpl> {
 public:
  using ModuleHolder::ModuleHolder;
  BatchNorm1d(int64_t n, BatchNormOptions o = {}) : ModuleHolder(std::make_shared<BatchNormImpl>(n, 1, o)) {}
};
class BatchNorm2d : public ModuleHolder<BatchNormImpl> {
 public:
  using ModuleHolder::ModuleHolder;
  BatchNorm2d(int64_t n, BatchNormOptions o = {}) : ModuleHolder(std::make_shared<BatchNormImpl>(n, 2, o)) {}
};

struct LayerNormOptions {
  double eps = 1e-5;
  bool elementwise_affine = true;
  bool bias = true;
};
class LayerNormImpl : public Module {
 public:
  LayerNormImpl(Shape normalized_shape, LayerNormOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LayerNorm"; }
  Config config() const override;
  std::string extra_repr() const override;
  Shape normalized_shape;
  LayerNormOptions options;
  Tensor weight, bias;
};
KILN_DECLARE_HOLDER(LayerNorm)
  LayerNorm(int64_t n, LayerNormOptions o = {}) : ModuleHolder(std::make_shared<LayerNormImpl>(Shape{n}, o)) {}
  LayerNorm(Shape s, LayerNormOptions o = {}) : ModuleHolder(std::make_shared<LayerNormImpl>(s, o)) {}
};

// ---------------------------------------------------------------- embedding
struct EmbeddingOptions {
  int64_t padding_idx = -1;
};
class EmbeddingImpl : public Module {
 public:
  EmbeddingImpl(int64_t num_embeddings, int64_t embedding_dim, EmbeddingOptions options = {});
  Tensor forward(const Tensor& index) override;
  std::string type_name() const override { return "Embedding"; }
  Config config() const override;
  std::string extra_repr() const override;
  int64_t num_embeddings, embedding_dim;
  EmbeddingOptions options;
  Tensor weight;
};
KILN_DECLARE_HOLDER(Embedding)
  Embedding(int64_t n, int64_t d, EmbeddingOptions o = {}) : ModuleHolder(std::make_shared<EmbeddingImpl>(n, d, o)) {}
};

// ---------------------------------------------------------------- stateless layers
class DropoutImpl : public Module {
 public:
  explicit DropoutImpl(double p = 0.5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  Config config() const override { return {{"p", p}}; }
  std::string extra_repr() const override;
  double p;
};
KILN_DECLARE_HOLDER(Dropout)
  Dropout(double p = 0.5) : ModuleHolder(std::make_shared<DropoutImpl>(p)) {}
};

class FlattenImpl : public Module {
 public:
  FlattenImpl(int64_t start_axis = 1, int64_t end_axis = -1) : start_axis(start_axis), end_axis(end_axis) {}
  Tensor forward(const Tensor& x) override { return x.flatten(start_axis, end_axis); }
  std::string type_name() const override { return "Flatten"; }
  Config config() const override { return {{"start_axis", start_axis}, {"end_axis", end_axis}}; }
  int64_t start_axis, end_axis;
};
KILN_DECLARE_HOLDER(Flatten)
  Flatten(int64_t s = 1, int64_t e = -1) : ModuleHolder(std::make_shared<FlattenImpl>(s, e)) {}
};

// Activations and other parameterless layers.
#define KILN_SIMPLE_LAYER(Name, expr)                                        \
  class Name##Impl : public Module {                                         \
   public:                                                                   \
    Tensor forward(const Tensor& x) override { return expr; }                \
    std::string type_name() const override { return #Name; }                 \
  };                                                                         \
  KILN_DECLARE_HOLDER(Name)                                                  \
    Name() : ModuleHolder(std::make_shared<Name##Impl>()) {}                 \
  };
KILN_SIMPLE_LAYER(Identity, x)
KILN_SIMPLE_LAYER(ReLU, relu(x))
KILN_SIMPLE_LAYER(GELU, gelu(x))
KILN_SIMPLE_LAYER(SiLU, silu(x))
KILN_SIMPLE_LAYER(Sigmoid, sigmoid(x))
KILN_SIMPLE_LAYER(Tanh, tanh(x))
#undef KILN_SIMPLE_LAYER

class LeakyReLUImpl : public Module {
 public:
  explicit LeakyReLUImpl(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  Tensor forward(const Tensor& x) override { return leaky_relu(x, negative_slope); }
  std::string type_name() const override { return "LeakyReLU"; }
  Config config() const override { return {{"negative_slope", negative_slope}}; }
  double negative_slope;
};
KILN_DECLARE_HOLDER(LeakyReLU)
  LeakyReLU(double s = 0.01) : ModuleHolder(std::make_shared<LeakyReLUImpl>(s)) {}
};

class SoftmaxImpl : public Module {
 public:
  explicit SoftmaxImpl(int64_t axis = -1, bool log = false) : axis(axis), log(log) {}
  Tensor forward(const Tensor& x) override { return log ? log_softmax(x, axis) : softmax(x, axis); }
  std::string type_name() const override { return log ? "LogSoftmax" : "Softmax"; }
  Config config() const override { return {{"axis", axis}}; }
  int64_t axis;
  bool log;
};
class Softmax : public ModuleHolder<SoftmaxImpl> {
 public:
  using ModuleHolder::ModuleHolder;
  Softmax(int64_t axis = -1) : ModuleHolder(std::make_shared<SoftmaxImpl>(axis, false)) {}
};
class LogSoftmax : public ModuleHolder<SoftmaxImpl> {
 public:
  using ModuleHolder::ModuleHolder;
  LogSoftmax(int64_t axis = -1) : ModuleHolder(std::make_shared<SoftmaxImpl>(axis, true)) {}
};

#undef KILN_DECLARE_HOLDER

}  // namespace kiln::nn
