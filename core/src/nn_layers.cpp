// Built-in layers and their registration in the layer registry.
#include <kiln/autograd.hpp>
#include <kiln/nn/functional.hpp>
#include <kiln/nn/init.hpp>
#include <kiln/nn/layers.hpp>

#include <cmath>
#include <sstream>

namespace kiln::nn {

namespace F = functional;

namespace {
std::string pair_str(const Size2& a) {
  return a[0] == a[1] ? std::to_string(a[0]) : "(" + std::to_string(a[0]) + ", " + std::to_string(a[1]) + ")";
}
}  // namespace

// ---------------------------------------------------------------- containers
SequentialImpl::SequentialImpl(std::initializer_list<ModulePtr> layers) {
  for (auto& l : layers) push_back(l);
}
void SequentialImpl::push_back(ModulePtr layer) { push_back(std::to_string(named_children().size()), std::move(layer)); }
void SequentialImpl::push_back(const std::string& name, ModulePtr layer) { register_module(name, std::move(layer)); }
Tensor SequentialImpl::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& [n, m] : named_children()) y = (*m)(y);
  return y;
}

ModuleListImpl::ModuleListImpl(std::initializer_list<ModulePtr> layers) {
  for (auto& l : layers) push_back(l);
}
void ModuleListImpl::push_back(ModulePtr layer) {
  register_module(std::to_string(named_children().size()), std::move(layer));
}
Tensor ModuleListImpl::forward(const Tensor&) {
  throw ValueError("ModuleList is a container, not a layer: call its elements in your forward()");
}
void ModuleDictImpl::insert(const std::string& key, ModulePtr layer) { register_module(key, std::move(layer)); }
ModulePtr ModuleDictImpl::operator[](const std::string& key) const {
  ModulePtr m = child(key);
  KILN_CHECK(m != nullptr, IndexError, "ModuleDict: no key '", key, "'");
  return m;
}
Tensor ModuleDictImpl::forward(const Tensor&) {
  throw ValueError("ModuleDict is a container, not a layer: call its elements in your forward()");
}

// ---------------------------------------------------------------- Linear
LinearImpl::LinearImpl(int64_t in, int64_t out, LinearOptions o) : in_features(in), out_features(out), options(o) {
  KILN_CHECK(in > 0 && out > 0, ValueError, "Linear: in_features and out_features must be positive, got ", in, " and ", out);
  weight = register_parameter("weight", empty({out, in}));
  if (o.bias) bias = register_parameter("bias", empty({out}));
  reset_parameters();
}
void LinearImpl::reset_parameters() {
  // PyTorch: kaiming_uniform_(a=sqrt(5)) for the weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    init::uniform_(bias, -bound, bound);
  }
}
Tensor LinearImpl::forward(const Tensor& x) {
  KILN_CHECK(x.dim() >= 1 && x.shape()[x.dim() - 1] == in_features, ShapeError, "expected input [..., ", in_features,
             "], got shape ", x.shape());
  return F::linear(x, weight, bias);
}
Config LinearImpl::config() const {
  return {{"in_features", in_features}, {"out_features", out_features}, {"bias", options.bias}};
}
std::string LinearImpl::extra_repr() const {
  return "in_features=" + std::to_string(in_features) + ", out_features=" + std::to_string(out_features) +
         ", bias=" + (options.bias ? "true" : "false");
}

// ---------------------------------------------------------------- Conv2d
Conv2dImpl::Conv2dImpl(int64_t in, int64_t out, std::array<int64_t, 2> k, Conv2dOptions o)
    : in_channels(in), out_channels(out), kernel(k), options(o) {
  KILN_CHECK(in > 0 && out > 0 && k[0] > 0 && k[1] > 0, ValueError, "Conv2d: channels and kernel must be positive");
  KILN_CHECK(o.groups >= 1 && in % o.groups == 0 && out % o.groups == 0, ValueError, "Conv2d: in_channels ", in,
             " and out_channels ", out, " must be divisible by groups ", o.groups);
  KILN_CHECK(o.padding_preset.empty() || o.padding_preset == "same" || o.padding_preset == "valid", ValueError,
             "Conv2d: padding_preset must be \"same\" or \"valid\", got \"", o.padding_preset, "\"");
  KILN_CHECK(o.padding_preset != "same" || (o.stride[0] == 1 && o.stride[1] == 1), ValueError,
             "Conv2d: padding \"same\" needs stride 1 (as in PyTorch)");
  weight = register_parameter("weight", empty({out, in / o.groups, k[0], k[1]}));
  if (o.bias) bias = register_parameter("bias", empty({out}));
  reset_parameters();
}
void Conv2dImpl::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    auto [fan_in, fan_out] = init::fans(weight);
    double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    init::uniform_(bias, -bound, bound);
  }
}
Tensor Conv2dImpl::forward(const Tensor& x) {
  KILN_CHECK((x.dim() == 4 || x.dim() == 3) && x.shape()[x.dim() - 3] == in_channels, ShapeError,
             "expected input [N, ", in_channels, ", H, W], got shape ", x.shape());
  Conv2dParams p{options.stride.arr(), options.padding.arr(), options.dilation.arr(), options.groups};
  if (options.padding_preset == "valid") p.padding = {0, 0};
  if (options.padding_preset == "same") {
    // total padding d*(k-1) per axis; PyTorch puts the odd extra on the right/bottom
    int64_t th = options.dilation[0] * (kernel[0] - 1), tw = options.dilation[1] * (kernel[1] - 1);
    if (th % 2 == 0 && tw % 2 == 0) {
      p.padding = {th / 2, tw / 2};
    } else {
      p.padding = {0, 0};
      Tensor padded = F::pad2d(x, tw / 2, tw - tw / 2, th / 2, th - th / 2);
      return conv2d(padded, weight, bias, p);
    }
  }
  return conv2d(x, weight, bias, p);
}
Config Conv2dImpl::config() const {
  return {{"in_channels", in_channels}, {"out_channels", out_channels}, {"kernel_size", kernel},
          {"stride", options.stride},   {"padding", options.padding},   {"padding_preset", options.padding_preset},
          {"dilation", options.dilation}, {"groups", options.groups},   {"bias", options.bias}};
}
std::string Conv2dImpl::extra_repr() const {
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                  ", kernel_size=" + pair_str(kernel) + ", stride=" + pair_str(options.stride);
  if (!options.padding_preset.empty()) s += ", padding=" + options.padding_preset;
  else if (options.padding[0] || options.padding[1]) s += ", padding=" + pair_str(options.padding);
  if (options.dilation[0] != 1 || options.dilation[1] != 1) s += ", dilation=" + pair_str(options.dilation);
  if (options.groups != 1) s += ", groups=" + std::to_string(options.groups);
  if (!options.bias) s += ", bias=false";
  return s;
}

// ---------------------------------------------------------------- pooling
namespace {
Pool2dParams pool_params(std::array<int64_t, 2> k, const PoolOptions& o) {
  Pool2dParams p;
  p.kernel = k;
  p.stride = {o.stride[0] ? o.stride[0] : k[0], o.stride[1] ? o.stride[1] : k[1]};
  p.padding = o.padding.arr();
  p.dilation = o.dilation.arr();
  p.ceil_mode = o.ceil_mode;
  p.count_include_pad = o.count_include_pad;
  return p;
}
Config pool_config(const Pool2dParams& p) {
  return {{"kernel_size", p.kernel}, {"stride", p.stride},       {"padding", p.padding},
          {"dilation", p.dilation},  {"ceil_mode", p.ceil_mode}, {"count_include_pad", p.count_include_pad}};
}
}  // namespace
MaxPool2dImpl::MaxPool2dImpl(std::array<int64_t, 2> k, PoolOptions o) : params(pool_params(k, o)) {}
Tensor MaxPool2dImpl::forward(const Tensor& x) { return max_pool2d(x, params); }
Config MaxPool2dImpl::config() const { return pool_config(params); }
std::string MaxPool2dImpl::extra_repr() const {
  return "kernel_size=" + pair_str(params.kernel) + ", stride=" + pair_str(params.stride) +
         ", padding=" + pair_str(params.padding);
}
AvgPool2dImpl::AvgPool2dImpl(std::array<int64_t, 2> k, PoolOptions o) : params(pool_params(k, o)) {}
Tensor AvgPool2dImpl::forward(const Tensor& x) { return avg_pool2d(x, params); }
Config AvgPool2dImpl::config() const { return pool_config(params); }
std::string AvgPool2dImpl::extra_repr() const {
  return "kernel_size=" + pair_str(params.kernel) + ", stride=" + pair_str(params.stride) +
         ", padding=" + pair_str(params.padding);
}
std::string AdaptiveAvgPool2dImpl::extra_repr() const { return "output_size=" + pair_str(output_size); }

// ---------------------------------------------------------------- normalization
BatchNormImpl::BatchNormImpl(int64_t n, int d, BatchNormOptions o) : num_features(n), dims(d), options(o) {
  KILN_CHECK(n > 0, ValueError, "BatchNorm: num_features must be positive, got ", n);
  if (o.affine) {
    weight = register_parameter("weight", ones({n}));
    bias = register_parameter("bias", zeros({n}));
  }
  if (o.track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({n}));
    running_var = register_buffer("running_var", ones({n}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, {.dtype = DType::Int64}));
  }
}
Tensor BatchNormImpl::forward(const Tensor& x) {
  if (dims == 1) {
    KILN_CHECK((x.dim() == 2 || x.dim() == 3) && x.shape()[1] == num_features, ShapeError, "expected input [N, ",
               num_features, "] or [N, ", num_features, ", L], got shape ", x.shape());
  } else {
    KILN_CHECK(x.dim() == 4 && x.shape()[1] == num_features, ShapeError, "expected input [N, ", num_features,
               ", H, W], got shape ", x.shape());
  }
  bool use_batch = training_ || !options.track_running_stats;
  if (training_ && options.track_running_stats) {
    NoGradGuard g;
    num_batches_tracked.copy_(add(num_batches_tracked, 1.0));
  }
  return F::batch_norm(x, use_batch && training_ ? running_mean : (use_batch ? Tensor() : running_mean),
                       use_batch && training_ ? running_var : (use_batch ? Tensor() : running_var), weight, bias,
                       use_batch, options.momentum, options.eps);
}
Config BatchNormImpl::config() const {
  return {{"num_features", num_features}, {"eps", options.eps}, {"momentum", options.momentum},
          {"affine", options.affine}, {"track_running_stats", options.track_running_stats}};
}
std::string BatchNormImpl::extra_repr() const {
  std::ostringstream os;
  os << num_features << ", eps=" << options.eps << ", momentum=" << options.momentum
     << ", affine=" << (options.affine ? "true" : "false");
  return os.str();
}

LayerNormImpl::LayerNormImpl(Shape s, LayerNormOptions o) : normalized_shape(s), options(o) {
  if (o.elementwise_affine) {
    weight = register_parameter("weight", ones(s));
    if (o.bias) bias = register_parameter("bias", zeros(s));
  }
}
Tensor LayerNormImpl::forward(const Tensor& x) { return F::layer_norm(x, normalized_shape, weight, bias, options.eps); }
Config LayerNormImpl::config() const {
  return {{"normalized_shape", normalized_shape.vec()}, {"eps", options.eps},
          {"elementwise_affine", options.elementwise_affine}, {"bias", options.bias}};
}
std::string LayerNormImpl::extra_repr() const { return normalized_shape.str(); }

// ---------------------------------------------------------------- Embedding, Dropout
EmbeddingImpl::EmbeddingImpl(int64_t n, int64_t d, EmbeddingOptions o) : num_embeddings(n), embedding_dim(d), options(o) {
  KILN_CHECK(n > 0 && d > 0, ValueError, "Embedding: sizes must be positive");
  KILN_CHECK(o.padding_idx < n && o.padding_idx >= -n - 1, ValueError, "Embedding: padding_idx ", o.padding_idx,
             " out of range for ", n, " embeddings");
  if (options.padding_idx < -1) options.padding_idx += n;
  weight = register_parameter("weight", empty({n, d}));
  init::normal_(weight);
  if (options.padding_idx >= 0) {
    NoGradGuard g;
    weight.select(0, options.padding_idx).fill_(0.0);
  }
}
Tensor EmbeddingImpl::forward(const Tensor& index) { return embedding(weight, index, options.padding_idx); }
Config EmbeddingImpl::config() const {
  return {{"num_embeddings", num_embeddings}, {"embedding_dim", embedding_dim}, {"padding_idx", options.padding_idx}};
}
std::string EmbeddingImpl::extra_repr() const {
  return std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim);
}

DropoutImpl::DropoutImpl(double p) : p(p) {
  KILN_CHECK(p >= 0 && p <= 1, ValueError, "Dropout: p must be in [0, 1], got ", p);
}
Tensor DropoutImpl::forward(const Tensor& x) { return F::dropout(x, p, training_); }
std::string DropoutImpl::extra_repr() const {
  std::ostringstream os;
  os << "p=" << p;
  return os.str();
}

// ---------------------------------------------------------------- registry of built-in layers
namespace {
std::array<int64_t, 2> arr2(const Config& c, const char* key, std::array<int64_t, 2> def) {
  if (!c.contains(key)) return def;
  const auto& v = c.at(key);
  if (v.is_number_integer()) return {v.get<int64_t>(), v.get<int64_t>()};
  return {v.at(0).get<int64_t>(), v.at(1).get<int64_t>()};
}
template <typename T>
T get(const Config& c, const char* key, T def) {
  return c.contains(key) ? c.at(key).get<T>() : def;
}
PoolOptions pool_options(const Config& c) {
  PoolOptions o;
  o.stride = arr2(c, "stride", {0, 0});
  o.padding = arr2(c, "padding", {0, 0});
  o.dilation = arr2(c, "dilation", {1, 1});
  o.ceil_mode = get(c, "ceil_mode", false);
  o.count_include_pad = get(c, "count_include_pad", true);
  return o;
}

struct BuiltinLayers {
  BuiltinLayers() {
    register_layer("Sequential", 1, [](const Config&) -> ModulePtr { return std::make_shared<SequentialImpl>(); });
    register_layer("ModuleList", 1, [](const Config&) -> ModulePtr { return std::make_shared<ModuleListImpl>(); });
    register_layer("ModuleDict", 1, [](const Config&) -> ModulePtr { return std::make_shared<ModuleDictImpl>(); });
    register_layer("Linear", 1, [](const Config& c) -> ModulePtr {
      return std::make_shared<LinearImpl>(c.at("in_features").get<int64_t>(), c.at("out_features").get<int64_t>(),
                                          LinearOptions{get(c, "bias", true)});
    });
    register_layer("Conv2d", 1, [](const Config& c) -> ModulePtr {
      Conv2dOptions o;
      o.stride = arr2(c, "stride", {1, 1});
      o.padding = arr2(c, "padding", {0, 0});
      o.padding_preset = get<std::string>(c, "padding_preset", "");
      o.dilation = arr2(c, "dilation", {1, 1});
      o.groups = get<int64_t>(c, "groups", 1);
      o.bias = get(c, "bias", true);
      return std::make_shared<Conv2dImpl>(c.at("in_channels").get<int64_t>(), c.at("out_channels").get<int64_t>(),
                                          arr2(c, "kernel_size", {1, 1}), o);
    });
    register_layer("MaxPool2d", 1, [](const Config& c) -> ModulePtr {
      return std::make_shared<MaxPool2dImpl>(arr2(c, "kernel_size", {2, 2}), pool_options(c));
    });
    register_layer("AvgPool2d", 1, [](const Config& c) -> ModulePtr {
      return std::make_shared<AvgPool2dImpl>(arr2(c, "kernel_size", {2, 2}), pool_options(c));
    });
    register_layer("AdaptiveAvgPool2d", 1, [](const Config& c) -> ModulePtr {
      return std::make_shared<AdaptiveAvgPool2dImpl>(arr2(c, "output_size", {1, 1}));
    });
    for (int d : {1, 2}) {
      register_layer(d == 1 ? "BatchNorm1d" : "BatchNorm2d", 1, [d](const Config& c) -> ModulePtr {
        BatchNormOptions o{get(c, "eps", 1e-5), get(c, "momentum", 0.1), get(c, "affine", true),
                           get(c, "track_running_stats", true)};
        return std::make_shared<BatchNormImpl>(c.at("num_features").get<int64_t>(), d, o);
      });
    }
    register_layer("LayerNorm", 1, [](const Config& c) -> ModulePtr {
      LayerNormOptions o{get(c, "eps", 1e-5), get(c, "elementwise_affine", true), get(c, "bias", true)};
      return std::make_shared<LayerNormImpl>(Shape(c.at("normalized_shape").get<std::vector<int64_t>>()), o);
    });
    register_layer("Embedding", 1, [](const Config& c) -> ModulePtr {
      return std::make_shared<EmbeddingImpl>(c.at("num_embeddings").get<int64_t>(), c.at("embedding_dim").get<int64_t>(),
                                             EmbeddingOptions{get<int64_t>(c, "padding_idx", -1)});
    });
    register_layer("Dropout", 1, [](const Config& c) -> ModulePtr { return std::make_shared<DropoutImpl>(get(c, "p", 0.5)); });
    register_layer("Flatten", 1, [](const Config& c) -> ModulePtr {
      return std::make_shared<FlattenImpl>(get<int64_t>(c, "start_axis", 1), get<int64_t>(c, "end_axis", -1));
    });
    register_layer("Identity", 1, [](const Config&) -> ModulePtr { return std::make_shared<IdentityImpl>(); });
    register_layer("ReLU", 1, [](const Config&) -> ModulePtr { return std::make_shared<ReLUImpl>(); });
    register_layer("GELU", 1, [](const Config&) -> ModulePtr { return std::make_shared<GELUImpl>(); });
    register_layer("SiLU", 1, [](const Config&) -> ModulePtr { return std::make_shared<SiLUImpl>(); });
    register_layer("Sigmoid", 1, [](const Config&) -> ModulePtr { return std::make_shared<SigmoidImpl>(); });
    register_layer("Tanh", 1, [](const Config&) -> ModulePtr { return std::make_shared<TanhImpl>(); });
    register_layer("LeakyReLU", 1, [](const Config& c) -> ModulePtr {
      return std::make_shared<LeakyReLUImpl>(get(c, "negative_slope", 0.01));
    });
    register_layer("Softmax", 1, [](const Config& c) -> ModulePtr {
      return std::make_shared<SoftmaxImpl>(get<int64_t>(c, "axis", -1), false);
    });
    register_layer("LogSoftmax", 1, [](const Config& c) -> ModulePtr {
      return std::make_shared<SoftmaxImpl>(get<int64_t>(c, "axis", -1), true);
    });
  }
};
const BuiltinLayers kBuiltinLayers;
}  // namespace

}  // namespace kiln::nn
