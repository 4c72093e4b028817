// nn::Module features: named parameters, buffers and children; train/eval; state dicts; hooks;
// Sequential, ModuleList and ModuleDict; errors that name the layer's path in the model.
#include <gtest/gtest.h>

#include <kiln/autograd.hpp>
#include <kiln/nn/layers.hpp>
#include <kiln/random.hpp>
#include <string>
#include <vector>

#include "expect_values.hpp"

namespace {

using namespace kiln;
using kiln::testing::values;
using kiln::testing::values_near;

// A small CNN in the PyTorch style: features (conv, BN, ReLU, pool) then a classifier.
class NetImpl : public nn::Module {
 public:
  explicit NetImpl(int64_t conv2_in = 4) {
    features = nn::Sequential{nn::Conv2d(1, 4, 3),        nn::BatchNorm2d(4),       nn::ReLU(),
                              nn::Conv2d(conv2_in, 2, 3), nn::AdaptiveAvgPool2d(1), nn::Flatten()};
    register_module("features", features);
    register_module("classifier", classifier);
  }
  Tensor forward(const Tensor& x) override { return classifier(features(x)); }
  std::string type_name() const override { return "Net"; }
  nn::Sequential features;
  nn::Linear classifier{2, 3};
};

std::vector<std::string> names(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<std::string> out;
  for (auto& [n, t] : named) out.push_back(n);
  return out;
}

void set(Tensor& param, const Tensor& value) {
  NoGradGuard guard;
  param.copy_(value);
}

// Message of the kiln::Error `fn` throws, "" when it throws none.
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const ShapeError& e) {
    return std::string("ShapeError: ") + e.what();
  } catch (const Error& e) {
    return std::string("Error: ") + e.what();
  }
  return "";
}

TEST(Module, NamedParametersBuffersChildrenAndModulesInOrder) {
  auto net = std::make_shared<NetImpl>();
  EXPECT_EQ(names(net->named_parameters()),
            (std::vector<std::string>{"features.0.weight", "features.0.bias", "features.1.weight",
                                      "features.1.bias", "features.3.weight", "features.3.bias",
                                      "classifier.weight", "classifier.bias"}));
  EXPECT_EQ(names(net->named_parameters(false)), std::vector<std::string>{});
  EXPECT_EQ(names(net->named_buffers()),
            (std::vector<std::string>{"features.1.running_mean", "features.1.running_var",
                                      "features.1.num_batches_tracked"}));
  std::vector<std::string> children, modules;
  for (auto& [n, m] : net->named_children()) children.push_back(n);
  for (auto& [n, m] : net->named_modules()) modules.push_back(n + ":" + m->type_name());
  EXPECT_EQ(children, (std::vector<std::string>{"features", "classifier"}));
  EXPECT_EQ(modules, (std::vector<std::string>{":Net", "features:Sequential", "features.0:Conv2d",
                                               "features.1:BatchNorm2d", "features.2:ReLU",
                                               "features.3:Conv2d", "features.4:AdaptiveAvgPool2d",
                                               "features.5:Flatten", "classifier:Linear"}));
  // parameters() hands out the layers' own tensors, not copies
  auto params = net->parameters();
  ASSERT_EQ(params.size(), 8u);
  EXPECT_TRUE(params[6].same(net->classifier->weight));
  EXPECT_EQ(net->child("classifier"), net->classifier.ptr());
  EXPECT_EQ(net->child("nothing"), nullptr);
}

TEST(Module, SharedParametersAreListedOnce) {
  nn::Linear shared(2, 2);
  nn::ModuleList list{shared, nn::ReLU(), shared};
  EXPECT_EQ(list->named_parameters().size(), 4u);  // two names for each tensor
  EXPECT_EQ(list->parameters().size(), 2u);
}

TEST(Module, RegistrationRejectsBadNames) {
  nn::Linear fc(2, 2);
  EXPECT_THROW(fc->register_parameter("a.b", zeros({1})), ValueError);
  EXPECT_THROW(fc->register_buffer("", zeros({1})), ValueError);
  EXPECT_THROW(fc->register_module("x.y", nn::ModulePtr(nn::ReLU())), ValueError);
  // re-registering a name replaces the tensor
  fc->register_buffer("scale", ones({1}));
  fc->register_buffer("scale", full({1}, 2.0));
  ASSERT_EQ(fc->named_buffers().size(), 1u);
  EXPECT_EQ(fc->named_buffers()[0].second.item<float>(), 2.0f);
  Tensor& p = fc->register_parameter("extra", zeros({3}));
  EXPECT_TRUE(p.requires_grad());
  EXPECT_FALSE(fc->register_parameter("frozen", zeros({3}), false).requires_grad());
}

TEST(Module, TrainAndEvalReachEveryDescendant) {
  auto net = std::make_shared<NetImpl>();
  for (auto& [n, m] : net->named_modules()) EXPECT_TRUE(m->is_training()) << n;
  net->eval();
  for (auto& [n, m] : net->named_modules()) EXPECT_FALSE(m->is_training()) << n;
  net->train();
  for (auto& [n, m] : net->named_modules()) EXPECT_TRUE(m->is_training()) << n;
  // Dropout inside a container follows it.
  manual_seed(1);
  nn::Sequential seq{nn::Dropout(0.5)};
  Tensor x = ones({100});
  EXPECT_FALSE(equal(seq(x), x));
  seq->eval();
  EXPECT_TRUE(equal(seq(x), x));
}

TEST(Module, StateDictRoundTripCopiesValues) {
  manual_seed(1);
  auto a = std::make_shared<NetImpl>();
  manual_seed(2);
  auto b = std::make_shared<NetImpl>();
  Tensor x = rand({2, 1, 7, 7});
  (*a)(x);  // moves a's BN running statistics off their defaults
  a->eval();
  b->eval();
  EXPECT_FALSE(allclose((*a)(x), (*b)(x)));

  auto state = a->state_dict();
  std::vector<std::string> keys;
  for (auto& [k, t] : state) keys.push_back(k);
  EXPECT_EQ(keys.size(), 11u);  // 8 parameters and 3 buffers
  EXPECT_TRUE(state.count("features.1.running_var"));
  b->load_state_dict(state);
  EXPECT_TRUE(equal((*a)(x), (*b)(x)));
  EXPECT_EQ(b->named_buffers()[2].second.item<int64_t>(), 1);  // num_batches_tracked came along
  // copied, not aliased: changing a afterwards leaves b alone
  set(a->classifier->bias, zeros({3}));
  EXPECT_FALSE(equal(a->classifier->bias, b->classifier->bias));
  // b's handles are the ones its layers hold
  EXPECT_TRUE(b->parameters()[0].same(std::dynamic_pointer_cast<nn::Conv2dImpl>((*b->features)[0])->weight));
}

TEST(Module, LoadStateDictStrictnessAndShapes) {
  auto net = std::make_shared<NetImpl>();
  auto state = net->state_dict();
  auto missing = state;
  missing.erase("classifier.bias");
  std::string msg = error_of([&] { net->load_state_dict(missing); });
  EXPECT_NE(msg.find("missing keys [classifier.bias]"), std::string::npos) << msg;
  auto extra = state;
  extra["head.weight"] = zeros({1});
  msg = error_of([&] { net->load_state_dict(extra); });
  EXPECT_NE(msg.find("unexpected keys [head.weight]"), std::string::npos) << msg;
  // non-strict: loads what matches, ignores the rest
  missing["head.weight"] = zeros({1});
  missing["classifier.weight"] = full({3, 2}, 0.5);
  net->load_state_dict(missing, false);
  EXPECT_TRUE(values_near(net->classifier->weight, std::vector<double>(6, 0.5), {3, 2}));
  auto wrong = state;
  wrong["classifier.weight"] = zeros({2, 3});
  msg = error_of([&] { net->load_state_dict(wrong); });
  EXPECT_EQ(msg.rfind("ShapeError", 0), 0u) << msg;
  EXPECT_NE(msg.find("'classifier.weight' has shape [2, 3] in the state dict but [3, 2] in the model"),
            std::string::npos)
      << msg;
}

TEST(Module, ForwardHooksSeeAndReplaceOutputs) {
  nn::Sequential seq{nn::Linear(2, 2), nn::ReLU()};
  auto fc = std::dynamic_pointer_cast<nn::LinearImpl>((*seq)[0]);
  set(fc->weight, values({1, 0, 0, -1}, {2, 2}));
  set(fc->bias, zeros({2}));
  std::vector<std::string> seen;
  int observe = (*seq)[1]->register_forward_hook([&](nn::Module& m, const Tensor& in, const Tensor& out) {
    seen.push_back(m.path() + " " + in.shape().str() + " -> " + out.shape().str());
    return Tensor();  // undefined: keep the output
  });
  Tensor x = values({1, 2}, {1, 2});
  EXPECT_TRUE(values_near(seq(x), {1, 0}, {1, 2}));
  EXPECT_EQ(seen, (std::vector<std::string>{"1 [1, 2] -> [1, 2]"}));
  int twice = (*seq)[1]->register_forward_hook(
      [](nn::Module&, const Tensor&, const Tensor& out) { return mul(out, 2.0); });
  EXPECT_TRUE(values_near(seq(x), {2, 0}, {1, 2}));
  EXPECT_EQ(seen.size(), 2u);  // hooks run in registration order, the first still observing
  (*seq)[1]->remove_hook(twice);
  (*seq)[1]->remove_hook(observe);
  EXPECT_TRUE(values_near(seq(x), {1, 0}, {1, 2}));
  EXPECT_EQ(seen.size(), 2u);
}

TEST(Module, ForwardPreHooksReplaceInputs) {
  nn::Linear fc(2, 1);
  set(fc->weight, values({1, 1}, {1, 2}));
  set(fc->bias, zeros({1}));
  int negate = fc->register_forward_pre_hook([](nn::Module&, const Tensor& in) { return neg(in); });
  int keep = fc->register_forward_pre_hook([](nn::Module&, const Tensor&) { return Tensor(); });
  Tensor x = values({1, 2}, {1, 2});
  EXPECT_TRUE(values_near(fc(x), {-3}, {1, 1}));
  // the forward hook receives the replaced input
  Tensor hook_input;
  fc->register_forward_hook([&](nn::Module&, const Tensor& in, const Tensor&) {
    hook_input = in;
    return Tensor();
  });
  fc(x);
  EXPECT_TRUE(values_near(hook_input, {-1, -2}, {1, 2}));
  fc->remove_hook(negate);
  fc->remove_hook(keep);
  EXPECT_TRUE(values_near(fc(x), {3}, {1, 1}));
}

TEST(Sequential, ChainsNamedLayersAndPrints) {
  nn::Sequential seq;
  seq->push_back("proj", nn::Linear(2, 2));
  seq->push_back(nn::ReLU());
  EXPECT_EQ(seq->size(), 2u);
  auto fc = std::dynamic_pointer_cast<nn::LinearImpl>((*seq)[0]);
  ASSERT_NE(fc, nullptr);
  set(fc->weight, values({1, -1, 2, 0.5f}, {2, 2}));
  set(fc->bias, values({0, -3}, {2}));
  // [1, 2] -> [1 - 2, 2 + 1 - 3] = [-1, 0] -> relu [0, 0]; [3, 1] -> [2, 3.5]
  EXPECT_TRUE(values_near(seq(values({1, 2, 3, 1}, {2, 2})), {0, 0, 2, 3.5}, {2, 2}));
  EXPECT_EQ(names(seq->named_parameters()), (std::vector<std::string>{"proj.weight", "proj.bias"}));
  EXPECT_EQ(seq->str(),
            "Sequential(\n  (proj): Linear(in_features=2, out_features=2, bias=true)\n  (1): ReLU()\n)\n");
}

TEST(ModuleList, HoldsLayersButIsNotCallable) {
  nn::ModuleList list{nn::Linear(3, 4), nn::Linear(4, 5)};
  list->push_back(nn::Tanh());
  EXPECT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[2]->type_name(), "Tanh");
  EXPECT_EQ(names(list->named_parameters()),
            (std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias"}));
  EXPECT_THROW(list(zeros({1, 3})), ValueError);
  Tensor y = zeros({1, 3});
  for (size_t i = 0; i < list->size(); ++i) y = (*(*list)[i])(y);
  EXPECT_EQ(y.shape(), (Shape{1, 5}));
}

TEST(ModuleDict, ByKey) {
  nn::ModuleDict dict;
  dict->insert("encoder", nn::Linear(2, 3));
  dict->insert("act", nn::GELU());
  EXPECT_TRUE(dict->contains("encoder"));
  EXPECT_FALSE(dict->contains("decoder"));
  EXPECT_EQ((*dict)["act"]->type_name(), "GELU");
  EXPECT_THROW((*dict)["decoder"], IndexError);
  EXPECT_EQ(names(dict->named_parameters()), (std::vector<std::string>{"encoder.weight", "encoder.bias"}));
  EXPECT_THROW(dict(zeros({1, 2})), ValueError);
}

TEST(Module, ToDTypeKeepsHandlesAndZeroGradClears) {
  nn::Linear fc(2, 1);
  Tensor w = fc->weight;
  sum(fc(ones({1, 2}))).backward();
  EXPECT_TRUE(w.grad().defined());
  fc->zero_grad();
  EXPECT_FALSE(w.grad().defined());
  fc->to(DType::Float64);
  EXPECT_EQ(w.dtype(), DType::Float64);  // the handle the caller holds sees the move
  EXPECT_TRUE(w.requires_grad());
  EXPECT_EQ(fc(ones({1, 2}, {.dtype = DType::Float64})).dtype(), DType::Float64);
}

// ---------------------------------------------------------------- wrong input shapes
TEST(ShapeErrors, NameTheLayerPathWhatItExpectedAndWhatItGot) {
  auto net = std::make_shared<NetImpl>();
  std::string msg = error_of([&] { (*net)(zeros({2, 3, 9, 9})); });
  EXPECT_EQ(msg,
            "ShapeError: layer 'features.0' (Conv2d): expected input [N, 1, H, W], got shape [2, 3, 9, 9]");

  // a model whose fourth feature layer was built for 8 channels but gets 4
  auto bad = std::make_shared<NetImpl>(8);
  msg = error_of([&] { (*bad)(zeros({2, 1, 9, 9})); });
  EXPECT_EQ(msg,
            "ShapeError: layer 'features.3' (Conv2d): expected input [N, 8, H, W], got shape [2, 4, 7, 7]");

  // the classifier gets a flattened feature vector of the wrong width
  nn::Sequential seq{nn::Flatten(), nn::Linear(12, 2)};
  msg = error_of([&] { seq(zeros({5, 2, 5})); });
  EXPECT_EQ(msg, "ShapeError: layer '1' (Linear): expected input [..., 12], got shape [5, 10]");

  // a layer called on its own is the root
  msg = error_of([&] { nn::BatchNorm1d(3)(zeros({4, 2})); });
  EXPECT_EQ(msg,
            "ShapeError: layer '<root>' (BatchNorm1d): expected input [N, 3] or [N, 3, L], got shape [4, 2]");
  msg = error_of([&] { nn::BatchNorm2d(3)(zeros({4, 3})); });
  EXPECT_EQ(msg, "ShapeError: layer '<root>' (BatchNorm2d): expected input [N, 3, H, W], got shape [4, 3]");
  msg = error_of([&] { nn::LayerNorm(4)(zeros({2, 3})); });
  EXPECT_EQ(msg,
            "ShapeError: layer '<root>' (LayerNorm): layer_norm: expected input [..., 4], got shape [2, 3]");
}

TEST(ShapeErrors, PoolingAndEmbeddingNameTheirLayer) {
  nn::Sequential seq{nn::Linear(4, 4), nn::MaxPool2d(2)};
  std::string msg = error_of([&] { seq(zeros({2, 4})); });
  EXPECT_NE(msg.find("layer '1' (MaxPool2d)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 4]"), std::string::npos) << msg;
  nn::Sequential emb{nn::Embedding(5, 2)};
  msg = error_of([&] { emb(zeros({3})); });
  EXPECT_NE(msg.find("layer '0' (Embedding)"), std::string::npos) << msg;
}

}  // namespace
