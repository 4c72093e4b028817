// Sequence layers for text: EmbeddingBag, LSTM and GRU (torch.nn's, with the same parameter names
// and gate order, so PyTorch weights load by name). Built from catalogue ops, so autograd and every
// backend run them.
//
//   nn::LSTM lstm(128, 256, {.num_layers = 2, .batch_first = true, .bidirectional = true});
//   auto [out, h_n, c_n] = lstm->forward(x, {}, lengths);   // x [B, T, 128], lengths int64 [B]
#pragma once

#include <kiln/nn/module.hpp>
#include <kiln/ops.hpp>

#include <string>

namespace kiln::nn {

// ---------------------------------------------------------------- EmbeddingBag
struct EmbeddingBagOptions {
  std::string mode = "mean";  // "sum" or "mean"
  int64_t padding_idx = -1;   // entries equal to it are left out of every bag (and get no gradient)
};
// Sums or averages the embeddings of each bag of indices without building [B, L, D] for the
// caller: fastText's classifier is EmbeddingBag followed by Linear.
class EmbeddingBagImpl : public Module {
 public:
  EmbeddingBagImpl(int64_t num_embeddings, int64_t embedding_dim, EmbeddingBagOptions options = {});
  // input int64 [B, L]: each row is one bag (pad rows with padding_idx). Returns [B, D].
  Tensor forward(const Tensor& input) override;
  // input int64 [N] holding the bags one after another, offsets int64 [B] where each bag starts
  // (ascending, offsets[0] == 0); per_sample_weights [N] scales each entry ("sum" mode only).
  // Empty bags give zeros. Returns [B, D].
  Tensor forward(const Tensor& input, const Tensor& offsets, const Tensor& per_sample_weights = Tensor());
  std::string type_name() const override { return "EmbeddingBag"; }
  Config config() const override;
  std::string extra_repr() const override;
  int64_t num_embeddings, embedding_dim;
  EmbeddingBagOptions options;
  Tensor weight;
};
class EmbeddingBag : public ModuleHolder<EmbeddingBagImpl> {
 public:
  using ModuleHolder::ModuleHolder;
  EmbeddingBag(int64_t n, int64_t d, EmbeddingBagOptions o = {})
      : ModuleHolder(std::make_shared<EmbeddingBagImpl>(n, d, std::move(o))) {}
};

// ---------------------------------------------------------------- LSTM and GRU
struct RNNOptions {
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;  // input [B, T, I] instead of [T, B, I]
  double dropout = 0.0;      // on the outputs of every layer but the last, when training
  bool bidirectional = false;
};
struct RNNOutput {
  Tensor output;  // [T, B, D*H] ([B, T, D*H] batch_first); zeros at padded steps
  Tensor h_n;     // [num_layers * D, B, H]: the state after each sequence's last real step
  Tensor c_n;     // LSTM only, like h_n
};

// Shared by LSTM and GRU: parameters weight_ih_l{k}[_reverse], weight_hh_l{k}[_reverse],
// bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse], initialised U(-1/sqrt(H), 1/sqrt(H)) as PyTorch.
class RNNBaseImpl : public Module {
 public:
  enum class Cell { LSTM, GRU };
  RNNBaseImpl(Cell cell, int64_t input_size, int64_t hidden_size, RNNOptions options);
  // The output sequence only.
  Tensor forward(const Tensor& input) override;
  // h0 (and c0 for LSTM) [num_layers * D, B, H] or undefined for zeros; lengths int64 [B] (each
  // <= T, >= 1) for padded batches: steps past a sequence's length do not change its state, and
  // the reverse direction starts at each sequence's last real step (like a packed sequence).
  RNNOutput forward(const Tensor& input, const Tensor& h0, const Tensor& c0 = Tensor(), const Tensor& lengths = Tensor());
  Config config() const override;
  std::string extra_repr() const override;
  Cell cell;
  int64_t input_size, hidden_size;
  RNNOptions options;

 private:
  int64_t gates() const { return cell == Cell::LSTM ? 4 : 3; }
};

class LSTMImpl : public RNNBaseImpl {
 public:
  LSTMImpl(int64_t input_size, int64_t hidden_size, RNNOptions options = {})
      : RNNBaseImpl(Cell::LSTM, input_size, hidden_size, options) {}
  using RNNBaseImpl::forward;
  std::string type_name() const override { return "LSTM"; }
};
class LSTM : public ModuleHolder<LSTMImpl> {
 public:
  using ModuleHolder::ModuleHolder;
  LSTM(int64_t input_size, int64_t hidden_size, RNNOptions o = {})
      : ModuleHolder(std::make_shared<LSTMImpl>(input_size, hidden_size, o)) {}
};

class GRUImpl : public RNNBaseImpl {
 public:
  GRUImpl(int64_t input_size, int64_t hidden_size, RNNOptions options = {})
      : RNNBaseImpl(Cell::GRU, input_size, hidden_size, options) {}
  using RNNBaseImpl::forward;
  std::string type_name() const override { return "GRU"; }
};
class GRU : public ModuleHolder<GRUImpl> {
 public:
  using ModuleHolder::ModuleHolder;
  GRU(int64_t input_size, int64_t hidden_size, RNNOptions o = {})
      : ModuleHolder(std::make_shared<GRUImpl>(input_size, hidden_size, o)) {}
};

}  // namespace kiln::nn
