// EmbeddingBag, LSTM and GRU, written with catalogue ops (linear, sigmoid, tanh, scatter_add, ...)
// so that autograd and every backend run them without new kernels.
#include <kiln/autograd.hpp>
#include <kiln/nn/functional.hpp>
#include <kiln/nn/init.hpp>
#include <kiln/nn/recurrent.hpp>
#include <kiln/nn/registry.hpp>

#include "layer_config.hpp"

#include <algorithm>
#include <cmath>

namespace kiln::nn {

namespace F = functional;

// ---------------------------------------------------------------- EmbeddingBag
EmbeddingBagImpl::EmbeddingBagImpl(int64_t n, int64_t d, EmbeddingBagOptions o)
    : num_embeddings(n), embedding_dim(d), options(std::move(o)) {
  KILN_CHECK(n > 0 && d > 0, ValueError, "EmbeddingBag: sizes must be positive, got ", n, " and ", d);
  KILN_CHECK(options.mode == "sum" || options.mode == "mean", ValueError,
             "EmbeddingBag: mode must be \"sum\" or \"mean\", got \"", options.mode, "\"");
  KILN_CHECK(options.padding_idx >= -1 && options.padding_idx < n, ValueError, "EmbeddingBag: padding_idx ",
             options.padding_idx, " out of range for ", n, " embeddings");
  weight = register_parameter("weight", empty({n, d}));
  init::normal_(weight);
  if (options.padding_idx >= 0) {
    NoGradGuard g;
    weight.select(0, options.padding_idx).fill_(0.0);
  }
}

Tensor EmbeddingBagImpl::forward(const Tensor& input) {
  KILN_CHECK(input.dim() == 2, ShapeError, "EmbeddingBag: expected bags [B, L] (or input [N] with offsets), got shape ",
             input.shape());
  Tensor emb = embedding(weight, input, options.padding_idx);  // [B, L, D]
  Tensor count;
  if (options.padding_idx >= 0) {
    Tensor keep = ne(input, full({}, static_cast<double>(options.padding_idx), {.dtype = DType::Int64, .device = input.device()}))
                      .to(weight.dtype());  // [B, L]
    emb = mul(emb, keep.unsqueeze(2));
    count = sum(keep, {1}, true);
  } else {
    count = full({input.size(0), 1}, static_cast<double>(input.size(1)), {.dtype = weight.dtype(), .device = input.device()});
  }
  Tensor out = sum(emb, {1});
  if (options.mode == "mean") out = div(out, clamp(count, 1.0, std::nullopt));
  return out;
}

Tensor EmbeddingBagImpl::forward(const Tensor& input, const Tensor& offsets, const Tensor& per_sample_weights) {
  KILN_CHECK(input.dim() == 1 && offsets.dim() == 1, ShapeError, "EmbeddingBag: expected input [N] and offsets [B], got ",
             input.shape(), " and ", offsets.shape());
  KILN_CHECK(!per_sample_weights.defined() || options.mode == "sum", ValueError,
             "EmbeddingBag: per_sample_weights needs mode \"sum\", not \"", options.mode, "\"");
  const int64_t n = input.size(0), b = offsets.size(0);
  KILN_CHECK(b >= 1, ShapeError, "EmbeddingBag: offsets is empty");
  std::vector<int64_t> off = offsets.to_vector<int64_t>();
  KILN_CHECK(off[0] == 0, ValueError, "EmbeddingBag: offsets[0] must be 0, got ", off[0]);
  for (int64_t k = 1; k < b; ++k)
    KILN_CHECK(off[k] >= off[k - 1] && off[k] <= n, ValueError, "EmbeddingBag: offsets must ascend within [0, ", n,
               "], got offsets[", k, "] = ", off[k], " after ", off[k - 1]);
  std::vector<int64_t> idx = input.to_vector<int64_t>();
  std::vector<int64_t> bag(static_cast<size_t>(n));
  std::vector<double> count(static_cast<size_t>(b), 0.0);
  for (int64_t i = 0, k = 0; i < n; ++i) {
    while (k + 1 < b && off[k + 1] <= i) ++k;
    bag[i] = k;
    if (idx[i] != options.padding_idx) count[k] += 1;
  }
  const int64_t d = embedding_dim;
  Tensor emb = embedding(weight, input, options.padding_idx);  // [N, D]
  if (options.padding_idx >= 0) {
    std::vector<double> keep(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) keep[i] = idx[i] != options.padding_idx;
    emb = mul(emb, from_vector<double>(keep, Shape{n, 1}, input.device()).to(weight.dtype()));
  }
  if (per_sample_weights.defined()) {
    KILN_CHECK(per_sample_weights.shape() == Shape({n}), ShapeError, "EmbeddingBag: per_sample_weights must be [", n,
               "], got ", per_sample_weights.shape());
    emb = mul(emb, per_sample_weights.unsqueeze(1));
  }
  Tensor index = from_vector<int64_t>(bag, Shape{n, 1}, input.device()).expand({n, d}).contiguous();
  Tensor out = scatter_add(zeros({b, d}, {.dtype = weight.dtype(), .device = weight.device()}), 0, index, emb);
  if (options.mode == "mean") {
    for (auto& c : count) c = std::max(c, 1.0);
    out = div(out, from_vector<double>(count, Shape{b, 1}, input.device()).to(weight.dtype()));
  }
  return out;
}

Config EmbeddingBagImpl::config() const {
  return {{"num_embeddings", num_embeddings}, {"embedding_dim", embedding_dim}, {"mode", options.mode},
          {"padding_idx", options.padding_idx}};
}
std::string EmbeddingBagImpl::extra_repr() const {
  return std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim) + ", mode=" + options.mode;
}

// ---------------------------------------------------------------- LSTM / GRU
namespace {
std::string suffix(int64_t layer, int dir) { return "_l" + std::to_string(layer) + (dir ? "_reverse" : ""); }

// The gradients of equally shaped pieces, with zeros of part_shape for the pieces no path used
// (at least one is defined: the node only runs when some output got a gradient).
std::vector<Tensor> zeros_for_undefined(const std::vector<Tensor>& g, const Shape& part_shape) {
  const Tensor* any = nullptr;
  for (const Tensor& gi : g)
    if (gi.defined()) {
      any = &gi;
      break;
    }
  std::vector<Tensor> grads(g.begin(), g.end());
  for (Tensor& gi : grads)
    if (!gi.defined() && any != nullptr) gi = zeros(part_shape, {.dtype = any->dtype(), .device = any->device()});
  return grads;
}

// Note [One node for many slices]
// A view op's backward writes its gradient into zeros shaped like the whole input, so taking the T
// steps of a [T, B, G] projection with select() would cost T full-size buffers in the backward
// pass (O(T^2)) and the four gates of each step four more. unbind() and chunk() record one
// autograd node for all the pieces instead, whose backward is a single stack / cat.
std::vector<Tensor> unbind(const Tensor& x) {
  Tensor base = x.detach();
  std::vector<Tensor> parts;
  for (int64_t t = 0; t < x.size(0); ++t) parts.push_back(base.select(0, t));
  if (autograd::needs_grad({x})) {
    Shape part_shape = parts[0].shape();
    autograd::record("unbind", {x}, parts, [part_shape](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{stack(zeros_for_undefined(g, part_shape), 0)};
    });
  }
  return parts;
}
// n equal pieces along axis 1 of a 2-D tensor.
std::vector<Tensor> chunk(const Tensor& x, int64_t n) {
  Tensor base = x.detach();
  const int64_t w = x.size(1) / n;
  std::vector<Tensor> parts;
  for (int64_t k = 0; k < n; ++k) parts.push_back(base.narrow(1, k * w, w));
  if (autograd::needs_grad({x})) {
    Shape part_shape = parts[0].shape();
    autograd::record("chunk", {x}, parts, [part_shape](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{cat(zeros_for_undefined(g, part_shape), 1)};
    });
  }
  return parts;
}
}  // namespace

RNNBaseImpl::RNNBaseImpl(Cell c, int64_t in, int64_t hidden, RNNOptions o)
    : cell(c), input_size(in), hidden_size(hidden), options(o) {
  const char* name = c == Cell::LSTM ? "LSTM" : "GRU";
  KILN_CHECK(in > 0 && hidden > 0, ValueError, name, ": input_size and hidden_size must be positive, got ", in, " and ",
             hidden);
  KILN_CHECK(o.num_layers >= 1, ValueError, name, ": num_layers must be >= 1, got ", o.num_layers);
  KILN_CHECK(o.dropout >= 0 && o.dropout < 1, ValueError, name, ": dropout must be in [0, 1), got ", o.dropout);
  const int dirs = o.bidirectional ? 2 : 1;
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
  for (int64_t l = 0; l < o.num_layers; ++l) {
    const int64_t layer_in = l == 0 ? in : hidden * dirs;
    for (int dir = 0; dir < dirs; ++dir) {
      const std::string s = suffix(l, dir);
      Tensor w_ih = register_parameter("weight_ih" + s, empty({gates() * hidden, layer_in}));
      Tensor w_hh = register_parameter("weight_hh" + s, empty({gates() * hidden, hidden}));
      init::uniform_(w_ih, -bound, bound);
      init::uniform_(w_hh, -bound, bound);
      if (o.bias) {
        Tensor b_ih = register_parameter("bias_ih" + s, empty({gates() * hidden}));
        Tensor b_hh = register_parameter("bias_hh" + s, empty({gates() * hidden}));
        init::uniform_(b_ih, -bound, bound);
        init::uniform_(b_hh, -bound, bound);
      }
    }
  }
}

Tensor RNNBaseImpl::forward(const Tensor& input) { return forward(input, Tensor()).output; }

RNNOutput RNNBaseImpl::forward(const Tensor& input, const Tensor& h0, const Tensor& c0, const Tensor& lengths) {
  const char* name = cell == Cell::LSTM ? "LSTM" : "GRU";
  KILN_CHECK(input.dim() == 3 && input.size(2) == input_size, ShapeError, name, ": expected input ",
             options.batch_first ? "[B, T, " : "[T, B, ", input_size, "], got shape ", input.shape());
  Tensor x = options.batch_first ? input.transpose(0, 1) : input;  // [T, B, I]
  const int64_t steps = x.size(0), batch = x.size(1), hidden = hidden_size;
  const int dirs = options.bidirectional ? 2 : 1;
  const Shape state_shape{options.num_layers * dirs, batch, hidden};
  TensorOptions topt{.dtype = input.dtype(), .device = input.device()};
  auto check_state = [&](const Tensor& s, const char* what) {
    KILN_CHECK(!s.defined() || s.shape() == state_shape, ShapeError, name, ": expected ", what, " ", state_shape,
               ", got ", s.shape());
  };
  check_state(h0, "h0");
  check_state(c0, "c0");
  Tensor mask;  // [T, B, 1], 1 at real steps
  if (lengths.defined()) {
    KILN_CHECK(lengths.shape() == Shape({batch}), ShapeError, name, ": expected lengths [", batch, "], got ",
               lengths.shape());
    std::vector<int64_t> len = lengths.to_vector<int64_t>();
    std::vector<double> m(static_cast<size_t>(steps * batch));
    for (int64_t b = 0; b < batch; ++b) {
      KILN_CHECK(len[b] >= 1 && len[b] <= steps, ValueError, name, ": lengths[", b, "] = ", len[b], " outside [1, ", steps, "]");
      for (int64_t t = 0; t < len[b]; ++t) m[t * batch + b] = 1.0;
    }
    mask = from_vector<double>(m, Shape{steps, batch, 1}, input.device()).to(input.dtype());
  }
  auto params = named_parameters(false);
  auto param = [&](const std::string& key) -> Tensor {
    for (auto& [n, t] : params)
      if (n == key) return t;
    return Tensor();
  };
  std::vector<Tensor> h_n, c_n;
  Tensor layer_input = x;
  for (int64_t l = 0; l < options.num_layers; ++l) {
    std::vector<Tensor> dir_outputs;
    for (int dir = 0; dir < dirs; ++dir) {
      const std::string s = suffix(l, dir);
      Tensor w_ih = param("weight_ih" + s), w_hh = param("weight_hh" + s);
      Tensor b_ih = param("bias_ih" + s), b_hh = param("bias_hh" + s);
      const int64_t k = l * dirs + dir;
      Tensor h = h0.defined() ? h0.select(0, k) : zeros({batch, hidden}, topt);
      Tensor c;
      if (cell == Cell::LSTM) c = c0.defined() ? c0.select(0, k) : zeros({batch, hidden}, topt);
      // [T, B, G*H], all steps at once, then one view per step (Note [One node for many slices])
      std::vector<Tensor> xproj = unbind(F::linear(layer_input, w_ih, b_ih));
      std::vector<Tensor> outs(static_cast<size_t>(steps));
      for (int64_t i = 0; i < steps; ++i) {
        const int64_t t = dir == 0 ? i : steps - 1 - i;
        const Tensor& gx = xproj[static_cast<size_t>(t)];
        Tensor gh = F::linear(h, w_hh, b_hh);
        Tensor h_new, c_new;
        if (cell == Cell::LSTM) {
          std::vector<Tensor> g = chunk(add(gx, gh), 4);
          Tensor in_gate = sigmoid(g[0]), forget = sigmoid(g[1]), cand = tanh(g[2]), out_gate = sigmoid(g[3]);
          c_new = add(mul(forget, c), mul(in_gate, cand));
          h_new = mul(out_gate, tanh(c_new));
        } else {
          std::vector<Tensor> x3 = chunk(gx, 3), h3 = chunk(gh, 3);
          Tensor r = sigmoid(add(x3[0], h3[0]));
          Tensor z = sigmoid(add(x3[1], h3[1]));
          Tensor n = tanh(add(x3[2], mul(r, h3[2])));
          h_new = add(mul((1.0 - z), n), mul(z, h));
        }
        if (mask.defined()) {
          Tensor m = mask.select(0, t), keep = (1.0 - m);
          h = add(mul(m, h_new), mul(keep, h));
          if (cell == Cell::LSTM) c = add(mul(m, c_new), mul(keep, c));
          outs[static_cast<size_t>(t)] = mul(m, h_new);
        } else {
          h = h_new;
          if (cell == Cell::LSTM) c = c_new;
          outs[static_cast<size_t>(t)] = h;
        }
      }
      dir_outputs.push_back(stack(outs, 0));
      h_n.push_back(h);
      if (cell == Cell::LSTM) c_n.push_back(c);
    }
    layer_input = dirs == 1 ? dir_outputs[0] : cat(dir_outputs, 2);
    if (options.dropout > 0 && l + 1 < options.num_layers) layer_input = F::dropout(layer_input, options.dropout, training_);
  }
  RNNOutput out;
  out.output = options.batch_first ? layer_input.transpose(0, 1) : layer_input;
  out.h_n = stack(h_n, 0);
  if (cell == Cell::LSTM) out.c_n = stack(c_n, 0);
  return out;
}

Config RNNBaseImpl::config() const {
  return {{"input_size", input_size},       {"hidden_size", hidden_size},
          {"num_layers", options.num_layers}, {"bias", options.bias},
          {"batch_first", options.batch_first}, {"dropout", options.dropout},
          {"bidirectional", options.bidirectional}};
}
std::string RNNBaseImpl::extra_repr() const {
  std::string s = std::to_string(input_size) + ", " + std::to_string(hidden_size);
  if (options.num_layers != 1) s += ", num_layers=" + std::to_string(options.num_layers);
  if (options.batch_first) s += ", batch_first=true";
  if (options.bidirectional) s += ", bidirectional=true";
  if (options.dropout > 0) s += ", dropout=" + std::to_string(options.dropout);
  return s;
}

// ---------------------------------------------------------------- registration for .kiln files
namespace {
RNNOptions rnn_options(const Config& c) {
  return {get<int64_t>(c, "num_layers", 1), get(c, "bias", true), get(c, "batch_first", false), get(c, "dropout", 0.0),
          get(c, "bidirectional", false)};
}
}  // namespace

void register_recurrent_layers() {
  register_layer("EmbeddingBag", 1, [](const Config& c) -> ModulePtr {
    return std::make_shared<EmbeddingBagImpl>(
        c.at("num_embeddings").get<int64_t>(), c.at("embedding_dim").get<int64_t>(),
        EmbeddingBagOptions{get<std::string>(c, "mode", "mean"), get<int64_t>(c, "padding_idx", -1)});
  });
  register_layer("LSTM", 1, [](const Config& c) -> ModulePtr {
    return std::make_shared<LSTMImpl>(c.at("input_size").get<int64_t>(), c.at("hidden_size").get<int64_t>(),
                                      rnn_options(c));
  });
  register_layer("GRU", 1, [](const Config& c) -> ModulePtr {
    return std::make_shared<GRUImpl>(c.at("input_size").get<int64_t>(), c.at("hidden_size").get<int64_t>(),
                                     rnn_options(c));
  });
}

}  // namespace kiln::nn
