// Attention layers: MultiheadAttention, TransformerEncoderLayer, TransformerEncoder and the
// sinusoidal PositionalEncoding (torch.nn's names, parameter names and defaults). Built from
// catalogue ops: autograd and every backend run them.
#pragma once

#include <kiln/nn/containers.hpp>
#include <kiln/nn/dropout.hpp>
#include <kiln/nn/linear.hpp>
#include <kiln/nn/normalization.hpp>
#include <kiln/nn/module.hpp>
#include <kiln/ops.hpp>

#include <string>

namespace kiln::nn {

// ---------------------------------------------------------------- MultiheadAttention
struct MultiheadAttentionOptions {
  double dropout = 0.0;      // on the attention weights, when training
  bool bias = true;
  bool batch_first = false;  // [B, T, E] instead of [T, B, E]
};
struct AttentionMasks {
  // bool [B, S]: true marks a key to ignore (padding)
  Tensor key_padding_mask;
  // [T, S]: bool (true = may not attend) or floating (added to the scores, e.g. -inf)
  Tensor attn_mask;
};
struct AttentionOutput {
  Tensor output;   // like query
  Tensor weights;  // [B, T, S], averaged over heads
};
// Parameters: in_proj_weight [3E, E], in_proj_bias [3E], out_proj (Linear E -> E).
class MultiheadAttentionImpl : public Module {
 public:
  MultiheadAttentionImpl(int64_t embed_dim, int64_t num_heads, MultiheadAttentionOptions options = {});
  // Self-attention without masks.
  Tensor forward(const Tensor& x) override;
  // query [T, B, E], key and value [S, B, E] (batch-first: [B, T, E], [B, S, E]). A query row whose
  // keys are all masked gives NaN, as in PyTorch.
  AttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value, const AttentionMasks& masks = {});
  std::string type_name() const override { return "MultiheadAttention"; }
  Config config() const override;
  std::string extra_repr() const override;
  int64_t embed_dim, num_heads;
  MultiheadAttentionOptions options;
  Tensor in_proj_weight, in_proj_bias;
  Linear out_proj;
};
class MultiheadAttention : public ModuleHolder<MultiheadAttentionImpl> {
 public:
  using ModuleHolder::ModuleHolder;
  MultiheadAttention(int64_t e, int64_t h, MultiheadAttentionOptions o = {})
      : ModuleHolder(std::make_shared<MultiheadAttentionImpl>(e, h, o)) {}
};

// ---------------------------------------------------------------- Transformer encoder
struct TransformerEncoderLayerOptions {
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  std::string activation = "relu";  // or "gelu"
  double layer_norm_eps = 1e-5;
  bool batch_first = false;
  bool norm_first = false;  // pre-norm (x + attn(norm(x))) instead of post-norm
};
// Self-attention and a feed-forward block, each with a residual connection and LayerNorm.
// Children: self_attn, linear1, dropout, linear2, norm1, norm2, dropout1, dropout2.
class TransformerEncoderLayerImpl : public Module {
 public:
  TransformerEncoderLayerImpl(int64_t d_model, int64_t nhead, TransformerEncoderLayerOptions options = {});
  Tensor forward(const Tensor& src) override { return forward(src, AttentionMasks{}); }
  Tensor forward(const Tensor& src, const AttentionMasks& masks);
  std::string type_name() const override { return "TransformerEncoderLayer"; }
  Config config() const override;
  int64_t d_model, nhead;
  TransformerEncoderLayerOptions options;
  MultiheadAttention self_attn;
  Linear linear1, linear2;
  Dropout dropout, dropout1, dropout2;
  LayerNorm norm1, norm2;
};
class TransformerEncoderLayer : public ModuleHolder<TransformerEncoderLayerImpl> {
 public:
  using ModuleHolder::ModuleHolder;
  TransformerEncoderLayer(int64_t d, int64_t h, TransformerEncoderLayerOptions o = {})
      : ModuleHolder(std::make_shared<TransformerEncoderLayerImpl>(d, h, std::move(o))) {}
};

// num_layers encoder layers of the same configuration (children "layers.0", ...), and a final
// LayerNorm ("norm") when final_norm.
class TransformerEncoderImpl : public Module {
 public:
  TransformerEncoderImpl(int64_t d_model, int64_t nhead, int64_t num_layers, TransformerEncoderLayerOptions options = {},
                         bool final_norm = false);
  Tensor forward(const Tensor& src) override { return forward(src, AttentionMasks{}); }
  Tensor forward(const Tensor& src, const AttentionMasks& masks);
  std::string type_name() const override { return "TransformerEncoder"; }
  Config config() const override;
  int64_t d_model, nhead, num_layers;
  TransformerEncoderLayerOptions options;
  bool final_norm;
  ModuleList layers;
};
class TransformerEncoder : public ModuleHolder<TransformerEncoderImpl> {
 public:
  using ModuleHolder::ModuleHolder;
  TransformerEncoder(int64_t d, int64_t h, int64_t n, TransformerEncoderLayerOptions o = {}, bool final_norm = false)
      : ModuleHolder(std::make_shared<TransformerEncoderImpl>(d, h, n, std::move(o), final_norm)) {}
};

// bool [T, T] mask that stops position i attending to positions after i (for causal models).
Tensor generate_square_subsequent_mask(int64_t size, const std::optional<Device>& device = {});

// ---------------------------------------------------------------- PositionalEncoding
struct PositionalEncodingOptions {
  int64_t max_len = 5000;
  double dropout = 0.1;
  bool batch_first = false;
};
// x + PE[:T] then dropout, PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...)
// ("Attention is all you need"). Buffer: pe [max_len, d_model].
class PositionalEncodingImpl : public Module {
 public:
  PositionalEncodingImpl(int64_t d_model, PositionalEncodingOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "PositionalEncoding"; }
  Config config() const override;
  int64_t d_model;
  PositionalEncodingOptions options;
  Tensor pe;
};
class PositionalEncoding : public ModuleHolder<PositionalEncodingImpl> {
 public:
  using ModuleHolder::ModuleHolder;
  PositionalEncoding(int64_t d, PositionalEncodingOptions o = {})
      : ModuleHolder(std::make_shared<PositionalEncodingImpl>(d, o)) {}
};

}  // namespace kiln::nn
