// MultiheadAttention, the Transformer encoder and positional encoding, from catalogue ops.
#include <kiln/autograd.hpp>
#include <kiln/nn/attention.hpp>
#include <kiln/nn/functional.hpp>
#include <kiln/nn/init.hpp>
#include <kiln/nn/registry.hpp>

#include "layer_config.hpp"

#include <cmath>
#include <limits>

namespace kiln::nn {

namespace F = functional;

// ---------------------------------------------------------------- MultiheadAttention
MultiheadAttentionImpl::MultiheadAttentionImpl(int64_t e, int64_t h, MultiheadAttentionOptions o)
    : embed_dim(e), num_heads(h), options(o), out_proj(e, e, {.bias = o.bias}) {
  KILN_CHECK(e > 0 && h > 0 && e % h == 0, ValueError, "MultiheadAttention: embed_dim ", e,
             " must be a positive multiple of num_heads ", h);
  KILN_CHECK(o.dropout >= 0 && o.dropout < 1, ValueError, "MultiheadAttention: dropout must be in [0, 1), got ", o.dropout);
  in_proj_weight = register_parameter("in_proj_weight", empty({3 * e, e}));
  init::xavier_uniform_(in_proj_weight);
  if (o.bias) in_proj_bias = register_parameter("in_proj_bias", zeros({3 * e}));
  register_module("out_proj", out_proj);
  if (o.bias) {
    NoGradGuard g;
    out_proj->bias.zero_();
  }
}

Tensor MultiheadAttentionImpl::forward(const Tensor& x) { return forward(x, x, x).output; }

AttentionOutput MultiheadAttentionImpl::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                                const AttentionMasks& masks) {
  const int64_t e = embed_dim, h = num_heads, d = e / h;
  for (const Tensor* t : {&query, &key, &value})
    KILN_CHECK(t->dim() == 3 && t->size(2) == e, ShapeError, "MultiheadAttention: expected ",
               options.batch_first ? "[B, T, " : "[T, B, ", e, "] inputs, got shape ", t->shape());
  // work batch-first
  Tensor q_in = options.batch_first ? query : query.transpose(0, 1);
  Tensor k_in = options.batch_first ? key : key.transpose(0, 1);
  Tensor v_in = options.batch_first ? value : value.transpose(0, 1);
  const int64_t b = q_in.size(0), tq = q_in.size(1), s = k_in.size(1);
  KILN_CHECK(k_in.size(0) == b && v_in.size(0) == b && v_in.size(1) == s, ShapeError,
             "MultiheadAttention: key and value must share batch and length, got ", key.shape(), " and ", value.shape());
  auto proj = [&](const Tensor& x, int64_t part) {
    Tensor w = in_proj_weight.narrow(0, part * e, e);
    Tensor bias = in_proj_bias.defined() ? in_proj_bias.narrow(0, part * e, e) : Tensor();
    return F::linear(x, w, bias);
  };
  auto heads = [&](const Tensor& x, int64_t len) { return x.reshape({b, len, h, d}).permute({0, 2, 1, 3}); };
  Tensor q = heads(proj(q_in, 0), tq), k = heads(proj(k_in, 1), s), v = heads(proj(v_in, 2), s);
  Tensor scores = mul(matmul(q, k.transpose(-2, -1)), 1.0 / std::sqrt(static_cast<double>(d)));  // [B, H, T, S]
  const double neg_inf = -std::numeric_limits<double>::infinity();
  TensorOptions fopt{.dtype = scores.dtype(), .device = scores.device()};
  if (masks.attn_mask.defined()) {
    const Tensor& m = masks.attn_mask;
    KILN_CHECK(m.shape() == Shape({tq, s}), ShapeError, "MultiheadAttention: attn_mask must be [", tq, ", ", s,
               "], got ", m.shape());
    Tensor add_mask = m.dtype() == DType::Bool ? where(m, full({}, neg_inf, fopt), zeros({}, fopt)) : m.to(scores.dtype());
    scores = add(scores, add_mask);
  }
  if (masks.key_padding_mask.defined()) {
    const Tensor& m = masks.key_padding_mask;
    KILN_CHECK(m.shape() == Shape({b, s}) && m.dtype() == DType::Bool, ShapeError,
               "MultiheadAttention: key_padding_mask must be bool [", b, ", ", s, "], got ", m.shape(), " ",
               dtype_name(m.dtype()));
    Tensor add_mask = where(m, full({}, neg_inf, fopt), zeros({}, fopt)).reshape({b, 1, 1, s});
    scores = add(scores, add_mask);
  }
  Tensor attn = softmax(scores, -1);
  if (options.dropout > 0) attn = F::dropout(attn, options.dropout, training_);
  Tensor ctx = matmul(attn, v).permute({0, 2, 1, 3}).reshape({b, tq, e});
  Tensor out = out_proj(ctx);
  AttentionOutput result;
  result.output = options.batch_first ? out : out.transpose(0, 1);
  result.weights = mean(attn, {1});
  return result;
}

Config MultiheadAttentionImpl::config() const {
  return {{"embed_dim", embed_dim}, {"num_heads", num_heads}, {"dropout", options.dropout}, {"bias", options.bias},
          {"batch_first", options.batch_first}};
}
std::string MultiheadAttentionImpl::extra_repr() const {
  return "embed_dim=" + std::to_string(embed_dim) + ", num_heads=" + std::to_string(num_heads);
}

// ---------------------------------------------------------------- TransformerEncoderLayer
TransformerEncoderLayerImpl::TransformerEncoderLayerImpl(int64_t d, int64_t h, TransformerEncoderLayerOptions o)
    : d_model(d),
      nhead(h),
      options(std::move(o)),
      self_attn(d, h, {.dropout = options.dropout, .batch_first = options.batch_first}),
      linear1(d, options.dim_feedforward),
      linear2(options.dim_feedforward, d),
      dropout(options.dropout),
      dropout1(options.dropout),
      dropout2(options.dropout),
      norm1(d, {.eps = options.layer_norm_eps}),
      norm2(d, {.eps = options.layer_norm_eps}) {
  KILN_CHECK(options.activation == "relu" || options.activation == "gelu", ValueError,
             "TransformerEncoderLayer: activation must be \"relu\" or \"gelu\", got \"", options.activation, "\"");
  register_module("self_attn", self_attn);
  register_module("linear1", linear1);
  register_module("dropout", dropout);
  register_module("linear2", linear2);
  register_module("norm1", norm1);
  register_module("norm2", norm2);
  register_module("dropout1", dropout1);
  register_module("dropout2", dropout2);
}

Tensor TransformerEncoderLayerImpl::forward(const Tensor& src, const AttentionMasks& masks) {
  auto sa = [&](const Tensor& x) { return dropout1(self_attn->forward(x, x, x, masks).output); };
  auto ff = [&](const Tensor& x) {
    Tensor hdn = linear1(x);
    hdn = options.activation == "relu" ? relu(hdn) : gelu(hdn);
    return dropout2(linear2(dropout(hdn)));
  };
  Tensor x = src;
  if (options.norm_first) {
    x = add(x, sa(norm1(x)));
    x = add(x, ff(norm2(x)));
  } else {
    x = norm1(add(x, sa(x)));
    x = norm2(add(x, ff(x)));
  }
  return x;
}

Config TransformerEncoderLayerImpl::config() const {
  return {{"d_model", d_model},
          {"nhead", nhead},
          {"dim_feedforward", options.dim_feedforward},
          {"dropout", options.dropout},
          {"activation", options.activation},
          {"layer_norm_eps", options.layer_norm_eps},
          {"batch_first", options.batch_first},
          {"norm_first", options.norm_first}};
}

// ---------------------------------------------------------------- TransformerEncoder
TransformerEncoderImpl::TransformerEncoderImpl(int64_t d, int64_t h, int64_t n, TransformerEncoderLayerOptions o,
                                               bool norm)
    : d_model(d), nhead(h), num_layers(n), options(std::move(o)), final_norm(norm) {
  KILN_CHECK(n >= 1, ValueError, "TransformerEncoder: num_layers must be >= 1, got ", n);
  for (int64_t i = 0; i < n; ++i) layers->push_back(std::make_shared<TransformerEncoderLayerImpl>(d, h, options));
  register_module("layers", layers);
  if (norm) register_module("norm", std::make_shared<LayerNormImpl>(Shape{d}, LayerNormOptions{.eps = options.layer_norm_eps}));
}

Tensor TransformerEncoderImpl::forward(const Tensor& src, const AttentionMasks& masks) {
  Tensor x = src;
  for (size_t i = 0; i < layers->size(); ++i) {
    auto layer = std::static_pointer_cast<TransformerEncoderLayerImpl>((*layers)[i]);
    x = layer->forward(x, masks);
  }
  if (final_norm) x = (*child("norm"))(x);
  return x;
}

Config TransformerEncoderImpl::config() const {
  Config c = {{"d_model", d_model}, {"nhead", nhead}, {"num_layers", num_layers}, {"final_norm", final_norm}};
  c["dim_feedforward"] = options.dim_feedforward;
  c["dropout"] = options.dropout;
  c["activation"] = options.activation;
  c["layer_norm_eps"] = options.layer_norm_eps;
  c["batch_first"] = options.batch_first;
  c["norm_first"] = options.norm_first;
  return c;
}

Tensor generate_square_subsequent_mask(int64_t size, const std::optional<Device>& device) {
  Tensor rows = arange(0.0, static_cast<double>(size), 1.0, {.dtype = DType::Int64, .device = device});
  return gt(rows.unsqueeze(0), rows.unsqueeze(1));  // [i, j] = j > i
}

// ---------------------------------------------------------------- PositionalEncoding
PositionalEncodingImpl::PositionalEncodingImpl(int64_t d, PositionalEncodingOptions o) : d_model(d), options(o) {
  KILN_CHECK(d > 0 && o.max_len > 0, ValueError, "PositionalEncoding: d_model and max_len must be positive");
  std::vector<float> table(static_cast<size_t>(o.max_len * d));
  for (int64_t p = 0; p < o.max_len; ++p)
    for (int64_t i = 0; i < d; ++i) {
      double freq = std::exp(-std::log(10000.0) * static_cast<double>(i - i % 2) / static_cast<double>(d));
      table[static_cast<size_t>(p * d + i)] = static_cast<float>(i % 2 == 0 ? std::sin(p * freq) : std::cos(p * freq));
    }
  pe = register_buffer("pe", from_vector<float>(table, Shape{o.max_len, d}));
}

Tensor PositionalEncodingImpl::forward(const Tensor& x) {
  KILN_CHECK(x.dim() == 3 && x.size(2) == d_model, ShapeError, "PositionalEncoding: expected ",
             options.batch_first ? "[B, T, " : "[T, B, ", d_model, "], got shape ", x.shape());
  const int64_t t = options.batch_first ? x.size(1) : x.size(0);
  KILN_CHECK(t <= options.max_len, ShapeError, "PositionalEncoding: sequence of ", t, " steps is longer than max_len ",
             options.max_len);
  Tensor table = pe.narrow(0, 0, t).to(x.dtype());
  table = options.batch_first ? table.unsqueeze(0) : table.unsqueeze(1);
  return F::dropout(add(x, table), options.dropout, training_);
}

Config PositionalEncodingImpl::config() const {
  return {{"d_model", d_model}, {"max_len", options.max_len}, {"dropout", options.dropout},
          {"batch_first", options.batch_first}};
}

// ---------------------------------------------------------------- registration for .kiln files
namespace {
TransformerEncoderLayerOptions encoder_options(const Config& c) {
  return {get<int64_t>(c, "dim_feedforward", 2048), get(c, "dropout", 0.1), get<std::string>(c, "activation", "relu"),
          get(c, "layer_norm_eps", 1e-5), get(c, "batch_first", false), get(c, "norm_first", false)};
}
}  // namespace

void register_attention_layers() {
  register_layer("MultiheadAttention", 1, [](const Config& c) -> ModulePtr {
    return std::make_shared<MultiheadAttentionImpl>(
        c.at("embed_dim").get<int64_t>(), c.at("num_heads").get<int64_t>(),
        MultiheadAttentionOptions{get(c, "dropout", 0.0), get(c, "bias", true), get(c, "batch_first", false)});
  });
  register_layer("TransformerEncoderLayer", 1, [](const Config& c) -> ModulePtr {
    return std::make_shared<TransformerEncoderLayerImpl>(c.at("d_model").get<int64_t>(), c.at("nhead").get<int64_t>(),
                                                         encoder_options(c));
  });
  register_layer("TransformerEncoder", 1, [](const Config& c) -> ModulePtr {
    return std::make_shared<TransformerEncoderImpl>(c.at("d_model").get<int64_t>(), c.at("nhead").get<int64_t>(),
                                                    c.at("num_layers").get<int64_t>(), encoder_options(c),
                                                    get(c, "final_norm", false));
  });
  register_layer("PositionalEncoding", 1, [](const Config& c) -> ModulePtr {
    return std::make_shared<PositionalEncodingImpl>(
        c.at("d_model").get<int64_t>(),
        PositionalEncodingOptions{get<int64_t>(c, "max_len", 5000), get(c, "dropout", 0.1), get(c, "batch_first", false)});
  });
}

}  // namespace kiln::nn
