// The sequence layers of core/include/kiln/nn/{recurrent,attention}.hpp: values against PyTorch
// 1.13 (computed once with the same deterministic weights; see the comment of each test),
// gradient checks in float64 on small shapes, masks, and .kiln round trips.
#include <kiln/autograd.hpp>
#include <kiln/nn/attention.hpp>
#include <kiln/nn/layers.hpp>
#include <kiln/nn/recurrent.hpp>
#include <kiln/ops.hpp>
#include <kiln/random.hpp>
#include <kiln/serialize.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

using namespace kiln;
namespace fs = std::filesystem;

namespace {
// Parameter k-th value ((k % 7) - 3) * 0.05 + 0.01 * (index of the parameter), as in the PyTorch script.
void fill_parameters(nn::Module& m) {
  int pi = 0;
  for (auto& [name, p] : m.named_parameters()) {
    std::vector<double> v(static_cast<size_t>(p.numel()));
    for (size_t k = 0; k < v.size(); ++k) v[k] = (static_cast<int>(k % 7) - 3) * 0.05 + 0.01 * pi;
    NoGradGuard g;
    p.copy_(from_vector<double>(v, p.shape()));
    ++pi;
  }
}
Tensor cos_input(const Shape& s) {
  std::vector<double> v(static_cast<size_t>(s.numel()));
  for (size_t k = 0; k < v.size(); ++k) v[k] = std::cos(static_cast<double>(k) * 0.5) * 0.5;
  return from_vector<double>(v, s);
}
void expect_close(const Tensor& t, const std::vector<double>& want, double tol = 1e-9) {
  std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}
Tensor rand_like_shape(const Shape& s, uint64_t seed) {
  std::vector<double> v(static_cast<size_t>(s.numel()));
  for (size_t k = 0; k < v.size(); ++k) v[k] = std::sin(static_cast<double>(k * 7 + seed) * 1.3) * 0.8;
  return from_vector<double>(v, s);
}
}  // namespace

TEST(EmbeddingBag, OffsetsAndPaddedBagsMatchPyTorch) {
  nn::EmbeddingBag bag(5, 2, {.mode = "mean", .padding_idx = 0});
  bag->to(DType::Float64);
  {
    NoGradGuard g;
    bag->weight.copy_(arange(0.0, 10.0, 1.0, {.dtype = DType::Float64}).reshape({5, 2}));
  }
  // torch.nn.EmbeddingBag(5, 2, mode='mean', padding_idx=0), input [1, 0, 2, 3, 4], offsets [0, 2, 2]
  Tensor out = bag->forward(from_vector<int64_t>({1, 0, 2, 3, 4}), from_vector<int64_t>({0, 2, 2}));
  expect_close(out, {2, 3, 0, 0, 6, 7});
  // the same bags padded into rows
  Tensor rows = from_vector<int64_t>({1, 0, 0, 0, 0, 0, 2, 3, 4}, Shape{3, 3});
  expect_close(bag(rows), {2, 3, 0, 0, 6, 7});
  nn::EmbeddingBag sum(5, 2, {.mode = "sum"});
  sum->to(DType::Float64);
  Tensor w = rand_like_shape({5}, 1);
  Tensor idx = from_vector<int64_t>({1, 1, 2, 3, 4});
  sum->weight.set_requires_grad(true);
  EXPECT_TRUE(autograd::gradcheck(
      [&](const std::vector<Tensor>& in) { return sum->forward(idx, from_vector<int64_t>({0, 3}), in[1]); },
      {sum->weight, w.set_requires_grad(true)}));
  EXPECT_TRUE(autograd::gradcheck([&](const std::vector<Tensor>&) { return bag(rows); }, {bag->weight}));
  EXPECT_THROW(bag->forward(from_vector<int64_t>({1, 2}), from_vector<int64_t>({1}, Shape{1})), ValueError);
}

TEST(LSTM, BidirectionalPackedMatchesPyTorch) {
  // torch.nn.LSTM(3, 2, bidirectional=True, batch_first=True).double(), weights by fill_parameters,
  // x = cos_input([2, 4, 3]), lengths [4, 2] through pack_padded_sequence / pad_packed_sequence.
  nn::LSTM lstm(3, 2, {.batch_first = true, .bidirectional = true});
  lstm->to(DType::Float64);
  fill_parameters(*lstm);
  auto r = lstm->forward(cos_input({2, 4, 3}), Tensor(), Tensor(), from_vector<int64_t>({4, 2}));
  EXPECT_EQ(r.output.shape(), Shape({2, 4, 4}));
  expect_close(r.output, {0.05492126904201081, 0.03384698421384753, 0.14562264333941602, 0.12951119619796378,
                          0.06981045793805464, 0.06895663898138062, 0.0917416952424162,  0.12306014873832916,
                          0.05267644049017375, 0.10241366687607321, 0.05465046003516028, 0.11470890642341697,
                          0.052540999243042855, 0.0992946087503546, 0.05709121465672443, 0.07560270306050706,
                          0.05260910604252752, 0.03384215220093202, 0.13318673033714656, 0.10064383565241311,
                          0.07313036408046529, 0.06424630339141806, 0.07167618365055108, 0.06373507853075033,
                          0, 0, 0, 0, 0, 0, 0, 0});
  expect_close(r.h_n, {0.052540999243042855, 0.0992946087503546, 0.07313036408046529, 0.06424630339141806,
                       0.14562264333941602, 0.12951119619796378, 0.13318673033714656, 0.10064383565241311});
  expect_close(r.c_n, {0.08679192508544756, 0.23527421900437387, 0.12704913658872194, 0.14900322070318084,
                       0.22731668059600835, 0.3084837330236816, 0.20653553495794133, 0.23628920305787557});
}

TEST(GRU, TwoLayersMatchPyTorch) {
  // torch.nn.GRU(3, 2, num_layers=2).double(), weights by fill_parameters, x = cos_input([4, 2, 3]).
  nn::GRU gru(3, 2, {.num_layers = 2});
  gru->to(DType::Float64);
  fill_parameters(*gru);
  auto r = gru->forward(cos_input({4, 2, 3}), Tensor());
  expect_close(r.output, {0.07681064023169712, 0.11405362843447675, 0.0771832385899509, 0.1156436319701678,
                          0.11475066035733446, 0.1820980486210855, 0.1149882291670378, 0.1825059729237964,
                          0.13241259310190504, 0.22019669683798665, 0.13260707669967065, 0.22121335188598007,
                          0.1420872582779857, 0.2434368877230699, 0.1424647950083934, 0.2435041584553107});
  expect_close(r.h_n, {0.0779909123911359, 0.18751823942669682, 0.0705129276739134, 0.17811152221475512,
                       0.1420872582779857, 0.2434368877230699, 0.1424647950083934, 0.2435041584553107});
}

TEST(RNN, Gradcheck) {
  manual_seed(3);
  nn::LSTM lstm(2, 3, {.batch_first = true, .bidirectional = true});
  lstm->to(DType::Float64);
  Tensor x = rand_like_shape({2, 3, 2}, 5).set_requires_grad(true);
  Tensor h0 = rand_like_shape({2, 2, 3}, 9).set_requires_grad(true);
  Tensor lengths = from_vector<int64_t>({3, 2});
  EXPECT_TRUE(autograd::gradcheck(
      [&](const std::vector<Tensor>& in) {
        auto r = lstm->forward(in[0], in[1], Tensor(), lengths);
        return add(sum(r.output), sum(r.c_n));
      },
      {x, h0, lstm->named_parameters()[1].second}));
  nn::GRU gru(2, 3);
  gru->to(DType::Float64);
  Tensor xt = rand_like_shape({3, 2, 2}, 11).set_requires_grad(true);
  EXPECT_TRUE(autograd::gradcheck([&](const std::vector<Tensor>& in) { return sum(square(gru(in[0]))); },
                                  {xt, gru->named_parameters()[0].second}));
}

TEST(MultiheadAttention, MasksAndGradcheck) {
  manual_seed(1);
  nn::MultiheadAttention mha(4, 2, {.batch_first = true});
  mha->to(DType::Float64);
  Tensor q = rand_like_shape({2, 3, 4}, 1).set_requires_grad(true);
  Tensor kv = rand_like_shape({2, 5, 4}, 2).set_requires_grad(true);
  Tensor pad = from_vector<uint8_t>({0, 0, 0, 1, 1, 0, 0, 0, 0, 0}, Shape{2, 5}).to(DType::Bool);
  auto r = mha->forward(q, kv, kv, {.key_padding_mask = pad});
  EXPECT_EQ(r.output.shape(), Shape({2, 3, 4}));
  EXPECT_EQ(r.weights.shape(), Shape({2, 3, 5}));
  // masked keys get no weight, each row sums to 1
  std::vector<double> w = r.weights.to_vector<double>();
  for (int t = 0; t < 3; ++t) {
    EXPECT_EQ(w[t * 5 + 3], 0.0);
    EXPECT_EQ(w[t * 5 + 4], 0.0);
    EXPECT_NEAR(w[t * 5] + w[t * 5 + 1] + w[t * 5 + 2], 1.0, 1e-12);
  }
  // changing a masked key changes nothing
  Tensor kv2 = kv.detach().clone();
  {
    NoGradGuard g;
    kv2.select(0, 0).select(0, 4).fill_(5.0);
  }
  EXPECT_TRUE(allclose(mha->forward(q, kv2, kv2, {.key_padding_mask = pad}).output, r.output, 0, 1e-12));
  // causal mask: position 0 sees only itself
  Tensor causal = nn::generate_square_subsequent_mask(3);
  EXPECT_EQ(causal.to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 1, 0, 0, 1, 0, 0, 0}));
  auto c = mha->forward(q, q, q, {.attn_mask = causal});
  EXPECT_NEAR(c.weights.select(1, 0).select(1, 0).to_vector<double>()[0], 1.0, 1e-12);
  EXPECT_TRUE(autograd::gradcheck(
      [&](const std::vector<Tensor>& in) {
        return sum(square(mha->forward(in[0], in[1], in[1], {.key_padding_mask = pad}).output));
      },
      {q, kv, mha->in_proj_weight}));
  EXPECT_THROW(nn::MultiheadAttention(5, 2), ValueError);
}

TEST(TransformerEncoder, ShapesGradcheckAndSaveLoad) {
  manual_seed(2);
  nn::TransformerEncoder enc(4, 2, 2, {.dim_feedforward = 8, .dropout = 0.0, .batch_first = true}, true);
  enc->to(DType::Float64);
  Tensor x = rand_like_shape({2, 3, 4}, 4).set_requires_grad(true);
  Tensor y = enc(x);
  EXPECT_EQ(y.shape(), Shape({2, 3, 4}));
  EXPECT_TRUE(autograd::gradcheck([&](const std::vector<Tensor>& in) { return sum(square(enc(in[0]))); }, {x}));
  nn::PositionalEncoding pe(4, {.max_len = 10, .dropout = 0.0, .batch_first = true});
  Tensor z = pe(zeros({1, 3, 4}));
  // PE[1, 0] = sin(1), PE[1, 1] = cos(1), PE[2, 2] = sin(2 / 100)
  std::vector<float> v = z.to_vector<float>();
  EXPECT_NEAR(v[4], std::sin(1.0), 1e-6);
  EXPECT_NEAR(v[5], std::cos(1.0), 1e-6);
  EXPECT_NEAR(v[10], std::sin(2.0 / 100.0), 1e-6);

  fs::path file = fs::temp_directory_path() / ("kiln_text_layers_" + std::to_string(::getpid()) + ".kiln");
  nn::Sequential net{nn::Embedding(10, 4), nn::PositionalEncoding(4, {.max_len = 8, .dropout = 0.0, .batch_first = true}),
                     nn::TransformerEncoder(4, 2, 1, {.dim_feedforward = 8, .dropout = 0.0, .batch_first = true}),
                     nn::LSTM(4, 3, {.batch_first = true, .bidirectional = true}), nn::Linear(6, 2)};
  net->eval();
  Tensor tokens = from_vector<int64_t>({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  Tensor before = net(tokens);
  save(*net.ptr(), file.string());
  nn::ModulePtr again = load(file.string());
  again->eval();
  EXPECT_TRUE(allclose((*again)(tokens), before, 1e-6, 1e-6));
  nn::Sequential bag_net{nn::EmbeddingBag(10, 4, {.mode = "sum", .padding_idx = 0}), nn::GRU(4, 2)};
  save(*bag_net.ptr(), file.string());
  EXPECT_EQ(load(file.string())->str(), bag_net->str());
  fs::remove(file);
}
