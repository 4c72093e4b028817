// Model: compile / fit / evaluate / predict / summary on tiny synthetic problems.
#include "fixtures.hpp"

#include <gtest/gtest.h>
#include <kiln/model.hpp>
#include <kiln/nn/layers.hpp>

#include <chrono>
#include <string>

namespace {

using namespace kiln;
using kiln::fixtures::two_spirals;

nn::Sequential xor_net() { return nn::Sequential{nn::Linear(2, 16), nn::Tanh(), nn::Linear(16, 2)}; }

TEST(Model, LearnsXor) {
  manual_seed(1);
  auto net = xor_net();
  Model model(net);
  model.compile(optim::Adam(net->parameters(), 0.05), nn::CrossEntropyLoss(), {metrics::Accuracy()});
  data::TensorBatches train(fixtures::xor_inputs(), fixtures::xor_targets(), {.batch_size = 4});
  History h = model.fit(train, {.epochs = 150, .verbose = 0});
  EXPECT_EQ(h["loss"].size(), 150u);
  EXPECT_LT(h["loss"].back(), 0.05);
  EXPECT_LT(h["loss"].back(), h["loss"].front());
  EXPECT_DOUBLE_EQ(h["accuracy"].back(), 1.0);
  Tensor pred = argmax(model.predict(fixtures::xor_inputs()), int64_t{1});
  EXPECT_EQ(pred.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 1, 0}));
}

TEST(Model, TwoSpiralsReach95PercentQuickly) {
  manual_seed(7);
  auto data = two_spirals(100);
  nn::Sequential net{nn::Linear(2, 64), nn::Tanh(), nn::Linear(64, 64), nn::Tanh(), nn::Linear(64, 2)};
  Model model(net);
  model.compile([](auto params) { return std::make_shared<optim::Adam>(params, 0.02); }, "cross_entropy",
                {"accuracy"});
  data::TensorBatches train(data.x, data.y, {.batch_size = 50, .shuffle = true, .seed = 3});
  auto start = std::chrono::steady_clock::now();
  model.fit(train, {.epochs = 150, .verbose = 0});
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  data::TensorBatches all(data.x, data.y, {.batch_size = 200});
  Logs logs = model.evaluate(all);
  EXPECT_GT(logs["accuracy"], 0.95) << "loss " << logs["loss"];
  EXPECT_LT(seconds, 20.0);
}

TEST(Model, HistoryHoldsEveryKeyPerEpoch) {
  manual_seed(2);
  auto train_data = fixtures::blobs(64, 11), val_data = fixtures::blobs(32, 12);
  auto net = xor_net();
  Model model(net);
  model.compile(optim::SGD(net->parameters(), 0.1, {.momentum = 0.9}), nn::CrossEntropyLoss(),
                {metrics::Accuracy(), metrics::F1()});
  data::TensorBatches train(train_data.x, train_data.y, {.batch_size = 16, .shuffle = true});
  data::TensorBatches val(val_data.x, val_data.y, {.batch_size = 10});
  History h = model.fit(train, {.epochs = 3, .validation = &val, .verbose = 0});
  EXPECT_EQ(h.epochs, (std::vector<int>{0, 1, 2}));
  for (const char* key : {"loss", "accuracy", "f1", "val_loss", "val_accuracy", "val_f1", "lr"}) {
    ASSERT_TRUE(h.contains(key)) << key;
    EXPECT_EQ(h[key].size(), 3u) << key;
  }
  EXPECT_EQ(h.history.size(), 7u);
  EXPECT_EQ(h["lr"], (std::vector<double>{0.1, 0.1, 0.1}));
  // The last epoch's validation numbers are what evaluate gives on the trained model.
  Logs logs = model.evaluate(val);
  EXPECT_NEAR(h["val_loss"].back(), logs["loss"], 1e-6);
  EXPECT_NEAR(h["val_accuracy"].back(), logs["accuracy"], 1e-12);
  EXPECT_EQ(model.history().epochs, h.epochs);
  EXPECT_THROW(h["val_precision"], ValueError);
  EXPECT_EQ(model.metrics_names(), (std::vector<std::string>{"loss", "accuracy", "f1"}));
}

TEST(Model, EvaluateAveragesOverSamplesNotBatches) {
  manual_seed(3);
  auto d = fixtures::blobs(10, 5);
  auto net = xor_net();
  Model model(net);
  model.compile(optim::SGD(net->parameters(), 0.1), nn::CrossEntropyLoss(), {metrics::Accuracy()});
  data::TensorBatches batches(d.x, d.y, {.batch_size = 4});  // 4 + 4 + 2
  Logs logs = model.evaluate(batches);
  ASSERT_EQ(logs.size(), 2u);
  Tensor out = net(d.x);
  double expected_loss = nn::functional::cross_entropy(out, d.y).item<double>();
  double expected_acc = mean(cast(eq(argmax(out, int64_t{1}), d.y), DType::Float64)).item<double>();
  EXPECT_NEAR(logs["loss"], expected_loss, 1e-5);
  EXPECT_NEAR(logs["accuracy"], expected_acc, 1e-12);
  // evaluate changed nothing: the loss is the same a second time.
  EXPECT_NEAR(model.evaluate(batches)["loss"], logs["loss"], 1e-12);
}

TEST(Model, PredictShapesValuesAndModes) {
  manual_seed(4);
  nn::Sequential net{nn::Linear(3, 8), nn::ReLU(), nn::Dropout(0.5), nn::Linear(8, 5)};
  Model model(net);
  Tensor x = randn({10, 3});
  Tensor pred = model.predict(x, 3);
  EXPECT_EQ(pred.shape(), (Shape{10, 5}));
  EXPECT_FALSE(pred.requires_grad());
  EXPECT_TRUE(net->is_training());  // predict restored the mode
  // In eval mode dropout is off, so predictions are the plain forward pass and repeatable.
  net->eval();
  Tensor expected = net(x);
  net->train();
  EXPECT_TRUE(allclose(pred, expected, 1e-5, 1e-6));
  EXPECT_TRUE(allclose(model.predict(x, 7), pred, 1e-5, 1e-6));
  data::TensorBatches source(x, Tensor(), {.batch_size = 4});
  EXPECT_TRUE(allclose(model.predict(source), pred, 1e-5, 1e-6));
  // The modules' own flags survive, even mixed ones.
  (*net)[2]->eval();
  model.predict(x);
  EXPECT_TRUE(net->is_training());
  EXPECT_FALSE((*net)[2]->is_training());
}

TEST(Model, SummaryOfLeNet5) {
  nn::Sequential net{nn::Conv2d(1, 6, 5, {.padding = {2, 2}}), nn::ReLU(), nn::MaxPool2d(2),
                     nn::Conv2d(6, 16, 5), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                     nn::Linear(400, 120), nn::ReLU(), nn::Linear(120, 84), nn::ReLU(), nn::Linear(84, 10)};
  Model model(net);
  std::string s = model.summary({1, 28, 28}, false);
  auto row = [&](const std::string& layer) {
    auto at = s.find(" " + layer + " ");
    EXPECT_NE(at, std::string::npos) << layer << " missing in\n" << s;
    return at == std::string::npos ? std::string() : s.substr(at, s.find('\n', at) - at);
  };
  auto expect_row = [&](const std::string& layer, const std::string& shape, const std::string& params) {
    std::string r = row(layer);
    EXPECT_NE(r.find(shape), std::string::npos) << r;
    EXPECT_TRUE(r.ends_with(" " + params)) << r;
  };
  expect_row("0 (Conv2d)", "(None, 6, 28, 28)", "156");
  expect_row("2 (MaxPool2d)", "(None, 6, 14, 14)", "0");
  expect_row("3 (Conv2d)", "(None, 16, 10, 10)", "2,416");
  expect_row("5 (MaxPool2d)", "(None, 16, 5, 5)", "0");
  expect_row("6 (Flatten)", "(None, 400)", "0");
  expect_row("7 (Linear)", "(None, 120)", "48,120");
  expect_row("9 (Linear)", "(None, 84)", "10,164");
  expect_row("11 (Linear)", "(None, 10)", "850");
  EXPECT_NE(s.find("Model: \"Sequential\""), std::string::npos) << s;
  EXPECT_NE(s.find("Total params: 61,706 (241.04 KB)"), std::string::npos) << s;
  EXPECT_NE(s.find("Trainable params: 61,706"), std::string::npos) << s;
  EXPECT_NE(s.find("Non-trainable params: 0"), std::string::npos) << s;
  EXPECT_TRUE(net->is_training());
  // Without an input shape the table still lists layers and counts.
  std::string bare = model.summary({}, false);
  EXPECT_NE(bare.find("Total params: 61,706"), std::string::npos) << bare;
  // Frozen parameters are reported as non-trainable.
  (*net)[0]->named_parameters().front().second.set_requires_grad(false);
  EXPECT_NE(model.summary({}, false).find("Non-trainable params: 150 (600.00 B)"), std::string::npos);
  ::testing::internal::CaptureStdout();
  model.summary({1, 28, 28});
  EXPECT_NE(::testing::internal::GetCapturedStdout().find("Total params: 61,706"), std::string::npos);
}

TEST(Model, SameSeedSameWeights) {
  auto run = [] {
    manual_seed(1234);
    auto d = fixtures::blobs(48, 9);
    nn::Sequential net{nn::Linear(2, 8), nn::ReLU(), nn::Dropout(0.2), nn::Linear(8, 2)};
    Model model(net);
    model.compile(optim::Adam(net->parameters(), 0.01), nn::CrossEntropyLoss(), {metrics::Accuracy()});
    data::TensorBatches train(d.x, d.y, {.batch_size = 8, .shuffle = true, .seed = 5});
    History h = model.fit(train, {.epochs = 3, .verbose = 0});
    return std::make_pair(net->state_dict(), h["loss"]);
  };
  auto [a, loss_a] = run();
  auto [b, loss_b] = run();
  EXPECT_EQ(loss_a, loss_b);
  ASSERT_EQ(a.size(), b.size());
  for (auto& [name, t] : a) EXPECT_TRUE(equal(t, b.at(name))) << name;
}

TEST(Model, CompileAcceptsEveryOptimizerAndLossForm) {
  auto net = xor_net();
  Model model(net);
  data::TensorBatches train(fixtures::xor_inputs(), fixtures::xor_targets(), {.batch_size = 2});
  auto shared = std::make_shared<optim::SGD>(net->parameters(), 0.5);
  model.compile(shared, std::make_shared<nn::CrossEntropyLoss>());
  EXPECT_EQ(&model.optimizer(), shared.get());
  model.compile(optim::SGD(net->parameters(), 0.2), nn::CrossEntropyLoss());
  EXPECT_EQ(model.optimizer().lr(), 0.2);
  model.compile([](auto params) { return std::make_shared<optim::SGD>(params, 0.05, optim::SGDOptions{.momentum = 0.9}); },
                [](const Tensor& out, const Tensor& y) { return nn::functional::cross_entropy(out, y); });
  EXPECT_EQ(model.optimizer().lr(), 0.05);
  EXPECT_EQ(model.loss().name(), "custom");
  History h = model.fit(train, {.epochs = 2, .verbose = 0});
  EXPECT_EQ(h.history.size(), 2u);  // loss and lr
}

TEST(Model, ErrorsSayWhatToDo) {
  auto net = xor_net();
  Model model(net);
  data::TensorBatches train(fixtures::xor_inputs(), fixtures::xor_targets());
  try {
    model.fit(train);
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("compile"), std::string::npos) << e.what();
  }
  EXPECT_THROW(model.compile(optim::SGD(std::vector<Tensor>{}, 0.1), nn::CrossEntropyLoss()), ValueError);
  EXPECT_THROW(model.compile(optim::SGD(net->parameters(), 0.1), nn::CrossEntropyLoss(),
                             {metrics::Accuracy(), "accuracy"}),
               ValueError);
  EXPECT_THROW(model.compile(optim::SGD(net->parameters(), 0.1), "hinge"), ValueError);
  model.compile(optim::SGD(net->parameters(), 0.1), nn::CrossEntropyLoss({.reduction = nn::functional::Reduction::None}));
  EXPECT_THROW(model.fit(train, {.verbose = 0}), ShapeError);
  EXPECT_THROW(model.fit(train, {.epochs = 2, .verbose = 0, .initial_epoch = 3}), ValueError);
}

TEST(Model, TrainOnBatchLowersTheLoss) {
  manual_seed(5);
  auto net = xor_net();
  Model model(net);
  model.compile(optim::SGD(net->parameters(), 0.5), nn::CrossEntropyLoss(), {metrics::Accuracy()});
  Tensor x = fixtures::xor_inputs(), y = fixtures::xor_targets();
  double first = model.test_on_batch(x, y)["loss"];
  for (int i = 0; i < 20; ++i) model.train_on_batch(x, y);
  Logs after = model.test_on_batch(x, y);
  EXPECT_LT(after["loss"], first);
  EXPECT_EQ(after.count("accuracy"), 1u);
}

TEST(Model, ResumesFromInitialEpoch) {
  auto net = xor_net();
  Model model(net);
  model.compile(optim::SGD(net->parameters(), 0.1), nn::CrossEntropyLoss());
  data::TensorBatches train(fixtures::xor_inputs(), fixtures::xor_targets());
  std::vector<int> begun;
  auto cb = std::make_shared<callbacks::LambdaCallback>(
      callbacks::LambdaCallbackFns{.epoch_begin = [&](int e, const Logs&) { begun.push_back(e); }});
  History h = model.fit(train, {.epochs = 5, .callbacks = {cb}, .verbose = 0, .initial_epoch = 3});
  EXPECT_EQ(h.epochs, (std::vector<int>{3, 4}));
  EXPECT_EQ(begun, (std::vector<int>{3, 4}));
}

TEST(Model, StopTrainingFromACallback) {
  auto net = xor_net();
  Model model(net);
  model.compile(optim::SGD(net->parameters(), 0.1), nn::CrossEntropyLoss());
  data::TensorBatches train(fixtures::xor_inputs(), fixtures::xor_targets(), {.batch_size = 1});
  int64_t batches = 0;
  callbacks::LambdaCallbackFns fns;
  fns.batch_end = [&](int64_t, const Logs&) { ++batches; };
  fns.epoch_end = [&](int epoch, Logs&) {
    if (epoch == 1) model.stop_training = true;
  };
  History h = model.fit(train, {.epochs = 10, .callbacks = {std::make_shared<callbacks::LambdaCallback>(fns)}, .verbose = 0});
  EXPECT_EQ(h.epochs.size(), 2u);
  EXPECT_EQ(batches, 8);
}

}  // namespace
