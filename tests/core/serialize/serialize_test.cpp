// .kiln round trips, loading without the source, checkpoint resumption, user layers and atomic
// writes. Hostile files are in serialize_hostile_test.cpp.
#include <kiln/data.hpp>
#include <kiln/nn/functional.hpp>
#include <kiln/nn/layers.hpp>
#include <kiln/optim.hpp>
#include <kiln/random.hpp>
#include <kiln/serialize.hpp>

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <csignal>

#include "serialize_test_util.hpp"

namespace kiln {
namespace {

using test::bit_equal;
using test::Bytes;
using test::TempDir;

void expect_same_state(const nn::Module& a, const nn::Module& b) {
  auto sa = a.state_dict(), sb = b.state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& [name, t] : sa) {
    ASSERT_TRUE(sb.count(name)) << name;
    EXPECT_TRUE(bit_equal(t, sb.at(name))) << name;
  }
}

TEST(Serialize, MlpRoundTripIsBitIdentical) {
  manual_seed(1);
  nn::Sequential net{nn::Linear(8, 16), nn::ReLU(), nn::Dropout(0.25), nn::Linear(16, 4, {.bias = false}), nn::Tanh()};
  TempDir dir;
  save(*net, dir.file("mlp.kiln"));
  nn::ModulePtr loaded = load(dir.file("mlp.kiln"));
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(loaded->str(), net->str());
  EXPECT_TRUE(loaded->is_training());
  expect_same_state(*net, *loaded);
  net->eval();
  loaded->eval();
  Tensor x = randn({5, 8});
  EXPECT_TRUE(bit_equal(net(x), (*loaded)(x)));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"mlp.kiln"});  // no temporary file left behind
}

nn::Sequential lenet5() {
  return nn::Sequential{nn::Conv2d(1, 6, 5, {.padding = {2, 2}}),
                        nn::BatchNorm2d(6),
                        nn::ReLU(),
                        nn::MaxPool2d(2),
                        nn::Conv2d(6, 16, 5, {.groups = 2, .bias = false}),
                        nn::ReLU(),
                        nn::AvgPool2d(2),
                        nn::Conv2d(16, 16, 3, {.padding_preset = "same", .dilation = {1, 1}}),
                        nn::Flatten(),
                        nn::Linear(16 * 5 * 5, 120),
                        nn::ReLU(),
                        nn::Linear(120, 84),
                        nn::BatchNorm1d(84, {.momentum = 0.2}),
                        nn::ReLU(),
                        nn::Linear(84, 10),
                        nn::LogSoftmax(1)};
}

TEST(Serialize, LeNet5RoundTripKeepsBuffersAndOptions) {
  manual_seed(2);
  nn::Sequential net = lenet5();
  // Training-mode passes move the BatchNorm running statistics away from their initial values.
  for (int i = 0; i < 2; ++i) net(randn({4, 1, 28, 28}));
  auto bn = std::dynamic_pointer_cast<nn::BatchNormImpl>((*net)[1]);
  ASSERT_EQ(bn->num_batches_tracked.item<int64_t>(), 2);
  TempDir dir;
  save(*net, dir.file("lenet.kiln"));
  net->eval();
  save(*net, dir.file("lenet.kiln"));  // overwrites in place
  nn::ModulePtr loaded = load(dir.file("lenet.kiln"));
  EXPECT_FALSE(loaded->is_training());
  EXPECT_EQ(loaded->str(), net->str());
  expect_same_state(*net, *loaded);
  auto bn2 = std::dynamic_pointer_cast<nn::BatchNormImpl>(loaded->named_children()[1].second);
  ASSERT_NE(bn2, nullptr);
  EXPECT_EQ(bn2->num_batches_tracked.item<int64_t>(), 2);
  EXPECT_EQ(bn2->num_batches_tracked.dtype(), DType::Int64);
  auto conv2 = std::dynamic_pointer_cast<nn::Conv2dImpl>(loaded->named_children()[4].second);
  ASSERT_NE(conv2, nullptr);
  EXPECT_EQ(conv2->options.groups, 2);
  EXPECT_FALSE(conv2->bias.defined());
  auto conv3 = std::dynamic_pointer_cast<nn::Conv2dImpl>(loaded->named_children()[7].second);
  EXPECT_EQ(conv3->options.padding_preset, "same");
  Tensor x = randn({3, 1, 28, 28});
  EXPECT_TRUE(bit_equal(net(x), (*loaded)(x)));
  // The loaded parameters are live: they still take gradients.
  for (const auto& p : loaded->parameters()) EXPECT_TRUE(p.requires_grad());
}

TEST(Serialize, Float64ModelKeepsItsDtype) {
  nn::Sequential net{nn::Linear(3, 2)};
  net->to(DType::Float64);
  TempDir dir;
  save(*net, dir.file("f64.kiln"));
  nn::ModulePtr loaded = load(dir.file("f64.kiln"));
  auto sd = loaded->state_dict();
  EXPECT_EQ(sd.at("0.weight").dtype(), DType::Float64);
  expect_same_state(*net, *loaded);
}

TEST(Serialize, LoadingDoesNotMoveTheDefaultGenerator) {
  nn::Sequential net{nn::Linear(30, 20), nn::Dropout(0.5)};
  TempDir dir;
  save(*net, dir.file("m.kiln"));
  manual_seed(77);
  uint64_t before = default_generator().offset();
  load(dir.file("m.kiln"));
  EXPECT_EQ(default_generator().offset(), before);
  EXPECT_EQ(default_generator().seed(), 77u);
}

// A file written without Kiln's writer, from JSON and raw bytes alone: the loader needs nothing
// but the registry to rebuild the model.
TEST(Serialize, LoadsFromJsonAlone) {
  nlohmann::ordered_json arch = nlohmann::ordered_json::parse(R"({
    "type": "Sequential", "version": 1, "config": {},
    "children": [
      {"name": "fc", "type": "Linear", "version": 1, "provider": "kiln",
       "config": {"in_features": 2, "out_features": 2, "bias": true}},
      {"name": "act", "type": "ReLU", "version": 1, "config": {}}
    ]})");
  test::KilnParts parts;
  parts.json = {{"architecture", arch},
                {"training", false},
                {"tensors",
                 {{"fc.weight", {{"dtype", "float32"}, {"shape", {2, 2}}, {"offset", 0}, {"length", 16}}},
                  {"fc.bias", {{"dtype", "float32"}, {"shape", {2}}, {"offset", 64}, {"length", 8}}}}}};
  const float weight[4] = {1.0f, 2.0f, -3.0f, 0.5f};
  const float bias[2] = {0.25f, -10.0f};
  parts.data.assign(128, 0);
  std::memcpy(parts.data.data(), weight, sizeof weight);  // little-endian host
  std::memcpy(parts.data.data() + 64, bias, sizeof bias);
  TempDir dir;
  test::write_bytes(dir.file("hand.kiln"), test::assemble(parts));
  nn::ModulePtr m = load(dir.file("hand.kiln"));
  EXPECT_EQ(m->str(), "Sequential(\n  (fc): Linear(in_features=2, out_features=2, bias=true)\n  (act): ReLU()\n)\n");
  EXPECT_FALSE(m->is_training());
  Tensor y = (*m)(from_vector(std::vector<float>{1.0f, 1.0f}, {1, 2}));
  // relu([1+2+0.25, -3+0.5-10]) = [3.25, 0]
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{3.25f, 0.0f}));
}

TEST(Serialize, ReadKilnHeaderSummarisesWithoutLoading) {
  nn::Sequential net{nn::Linear(4, 3), nn::ReLU()};
  TempDir dir;
  save(*net, dir.file("m.kiln"));
  auto h = read_kiln_header(dir.file("m.kiln"));
  EXPECT_EQ(h["architecture"]["type"], "Sequential");
  EXPECT_EQ(h["architecture"]["children"][0]["type"], "Linear");
  EXPECT_EQ(h["architecture"]["children"][0]["config"]["in_features"], 4);
  EXPECT_EQ(h["tensors"]["0.weight"]["shape"], nlohmann::ordered_json({3, 4}));
  EXPECT_EQ(h["header"]["format_version"], 1);
  EXPECT_EQ(h["header"]["json_offset"], 64);
  EXPECT_EQ(h["header"]["data_offset"].get<uint64_t>() % 64, 0u);
  EXPECT_EQ(h["header"]["file_size"], test::read_bytes(dir.file("m.kiln")).size());
  EXPECT_EQ(h["kiln_version"], "0.1.0");
}

// ---------------------------------------------------------------- checkpoint resumption
struct TrainingRun {
  nn::Sequential model{nn::Linear(4, 16), nn::ReLU(), nn::Dropout(0.3), nn::Linear(16, 3)};
};

void train_steps(nn::Module& model, optim::Optimizer& opt, data::TensorBatches& batches, int steps) {
  model.train();
  for (int i = 0; i < steps; ++i) {
    auto batch = batches.next();
    ASSERT_TRUE(batch.has_value());
    opt.zero_grad();
    Tensor loss = nn::functional::cross_entropy(model(batch->input), batch->target);
    loss.backward();
    opt.step();
  }
}

TEST(Serialize, CheckpointResumesBitForBit) {
  manual_seed(5);
  Tensor inputs = randn({40, 4});
  Tensor targets = randint(0, 3, {40});
  TempDir dir;

  // Original run: one epoch, checkpoint, then 3 steps of the next epoch -> A.
  manual_seed(11);
  TrainingRun a;
  optim::SGD opt_a(a.model->parameters(), 0.1, {.momentum = 0.9});
  data::TensorBatches batches_a(inputs, targets, {.batch_size = 8, .shuffle = true, .seed = 3});
  batches_a.start_epoch(0);
  train_steps(*a.model, opt_a, batches_a, 5);
  save_checkpoint(dir.file("ck.kiln"), *a.model, &opt_a, 1, {{"note", "after epoch 0"}, {"best_loss", 0.5}});
  batches_a.start_epoch(1);
  train_steps(*a.model, opt_a, batches_a, 3);

  // Resumed run, in a "fresh process": another seed, model and optimizer rebuilt from the file.
  manual_seed(999);
  Checkpoint ck = load_checkpoint(dir.file("ck.kiln"));
  EXPECT_EQ(ck.optimizer, "SGD");
  EXPECT_EQ(ck.epoch, 1);
  ASSERT_TRUE(ck.has_rng);
  EXPECT_EQ(ck.metadata["note"], "after epoch 0");
  EXPECT_EQ(ck.metadata["best_loss"], 0.5);
  EXPECT_EQ(ck.optimizer_state.count("0.0.momentum_buffer"), 1u);
  optim::SGD opt_b(ck.model->parameters(), 0.1, {.momentum = 0.9});
  opt_b.load_state_dict(ck.optimizer_state);
  default_generator().set_state(ck.rng_seed, ck.rng_offset);
  data::TensorBatches batches_b(inputs, targets, {.batch_size = 8, .shuffle = true, .seed = 3});
  batches_b.start_epoch(ck.epoch);
  train_steps(*ck.model, opt_b, batches_b, 3);
  expect_same_state(*a.model, *ck.model);

  // The test can fail: without the saved RNG state, dropout draws other masks.
  Checkpoint ck2 = load_checkpoint(dir.file("ck.kiln"));
  optim::SGD opt_c(ck2.model->parameters(), 0.1, {.momentum = 0.9});
  opt_c.load_state_dict(ck2.optimizer_state);
  manual_seed(12345);
  data::TensorBatches batches_c(inputs, targets, {.batch_size = 8, .shuffle = true, .seed = 3});
  batches_c.start_epoch(ck2.epoch);
  train_steps(*ck2.model, opt_c, batches_c, 3);
  EXPECT_FALSE(bit_equal(a.model->state_dict().at("0.weight"), ck2.model->state_dict().at("0.weight")));
}

TEST(Serialize, PlainModelFileReadsAsCheckpointWithoutTrainingState) {
  nn::Sequential net{nn::Linear(2, 2)};
  TempDir dir;
  save(*net, dir.file("m.kiln"));
  Checkpoint ck = load_checkpoint(dir.file("m.kiln"));
  EXPECT_EQ(ck.optimizer, "");
  EXPECT_EQ(ck.epoch, -1);
  EXPECT_FALSE(ck.has_rng);
  EXPECT_TRUE(ck.optimizer_state.empty());
  // and a checkpoint loads as a model
  save_checkpoint(dir.file("c.kiln"), *net, nullptr, 4);
  expect_same_state(*net, *load(dir.file("c.kiln")));
  EXPECT_EQ(load_checkpoint(dir.file("c.kiln")).epoch, 4);
}

// ---------------------------------------------------------------- user layers
// A composite user layer: builds its own children from its config.
class ResidualImpl : public nn::Module {
 public:
  explicit ResidualImpl(const nn::Config& c) : width(c.at("width").get<int64_t>()) {
    fc = nn::Linear(width, width);
    register_module("fc", fc);
  }
  Tensor forward(const Tensor& x) override { return x + fc(x); }
  std::string type_name() const override { return "TestResidual"; }
  nn::Config config() const override { return {{"width", width}}; }
  int64_t width;
  nn::Linear fc{nullptr};
};
KILN_REGISTER_LAYER(ResidualImpl, "TestResidual", 2)

// A user layer built by a static from_config, with a buffer.
class ScaleImpl : public nn::Module {
 public:
  explicit ScaleImpl(double s) : s(s) { register_buffer("scale", full({1}, s)); }
  static std::shared_ptr<ScaleImpl> from_config(const nn::Config& c) { return std::make_shared<ScaleImpl>(c.at("s").get<double>()); }
  Tensor forward(const Tensor& x) override { return x * named_buffers(false)[0].second; }
  std::string type_name() const override { return "TestScale"; }
  nn::Config config() const override { return {{"s", s}}; }
  double s;
};
KILN_REGISTER_LAYER(ScaleImpl, "TestScale", 1)

class UnregisteredImpl : public nn::Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "MyBlock"; }
};

TEST(Serialize, RegisteredUserLayersRoundTrip) {
  const auto* reg = nn::find_layer("TestResidual");
  ASSERT_NE(reg, nullptr);
  EXPECT_EQ(reg->version, 2);
  EXPECT_FALSE(reg->provider.empty());  // this test program
  nn::Sequential net{std::make_shared<ResidualImpl>(nn::Config{{"width", 3}}), std::make_shared<ScaleImpl>(2.5)};
  TempDir dir;
  save(*net, dir.file("user.kiln"));
  auto header = read_kiln_header(dir.file("user.kiln"));
  EXPECT_EQ(header["architecture"]["children"][0]["version"], 2);
  EXPECT_EQ(header["architecture"]["children"][0]["provider"], reg->provider);
  nn::ModulePtr loaded = load(dir.file("user.kiln"));
  EXPECT_EQ(loaded->str(), net->str());
  expect_same_state(*net, *loaded);
  Tensor x = randn({2, 3});
  EXPECT_TRUE(bit_equal(net(x), (*loaded)(x)));
}

TEST(Serialize, SaveRefusesUnregisteredLayersAndKeepsTheOldFile) {
  TempDir dir;
  nn::Sequential good{nn::Linear(2, 2)};
  save(*good, dir.file("m.kiln"));
  Bytes before = test::read_bytes(dir.file("m.kiln"));
  nn::Sequential net;
  net->push_back("features", nn::Sequential{nn::Linear(2, 2), std::make_shared<UnregisteredImpl>()});
  try {
    save(*net, dir.file("m.kiln"));
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("layer 'features.1' (MyBlock) is not registered; register it with "
                                         "KILN_REGISTER_LAYER to save its architecture, or save its state_dict"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(test::read_bytes(dir.file("m.kiln")), before);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"m.kiln"});
}

// ---------------------------------------------------------------- failed and atomic writes
TEST(Serialize, DiskFullLeavesTheOldFileAndNoTemporary) {
  TempDir dir;
  nn::Sequential small{nn::Linear(2, 2)};
  save(*small, dir.file("m.kiln"));
  Bytes before = test::read_bytes(dir.file("m.kiln"));
  nn::Sequential big{nn::Linear(256, 256)};  // 256 KiB of weights
  // Simulate a full disk: writes past 64 KiB fail with EFBIG (SIGXFSZ ignored so write returns).
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit old_limit{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit limit = old_limit;
  limit.rlim_cur = 64 * 1024;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  bool threw = false;
  std::string message;
  try {
    save(*big, dir.file("m.kiln"));
  } catch (const DataError& e) {
    threw = true;
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_TRUE(threw);
  EXPECT_NE(message.find("cannot save"), std::string::npos) << message;
  EXPECT_NE(message.find(dir.file("m.kiln")), std::string::npos) << message;
  EXPECT_EQ(test::read_bytes(dir.file("m.kiln")), before);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"m.kiln"});
}

TEST(Serialize, UnwritablePathsFailCleanly) {
  TempDir dir;
  nn::Sequential net{nn::Linear(2, 2)};
  // A folder that does not exist, and a "folder" that is a regular file.
  EXPECT_THROW(save(*net, dir.file("missing/m.kiln")), DataError);
  test::write_bytes(dir.file("plain"), {1, 2, 3});
  EXPECT_THROW(save(*net, dir.file("plain/m.kiln")), DataError);
  // The destination is a folder: everything is written, the rename fails, the temp goes away.
  std::filesystem::create_directory(dir.path() / "taken.kiln");
  try {
    save(*net, dir.file("taken.kiln"));
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("renaming"), std::string::npos) << e.what();
  }
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"plain", "taken.kiln"}));
  EXPECT_EQ(test::read_bytes(dir.file("plain")), (Bytes{1, 2, 3}));
}

}  // namespace
}  // namespace kiln
