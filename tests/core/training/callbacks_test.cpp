// Callbacks driven by Model::fit. Where a callback reacts to a monitored number, a LambdaCallback
// placed before it writes a scripted "score" into the epoch's logs, so the expected epochs are
// known exactly.
#include "fixtures.hpp"

#include <gtest/gtest.h>
#include <kiln/model.hpp>
#include <kiln/nn/layers.hpp>
#include <kiln/serialize.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace kiln;
using namespace kiln::callbacks;

struct Fixture {
  nn::Sequential net{nn::Linear(2, 8), nn::Tanh(), nn::Linear(8, 2)};
  Model model{net};
  data::TensorBatches train{fixtures::xor_inputs(), fixtures::xor_targets(), {.batch_size = 2}};
  data::TensorBatches val{fixtures::xor_inputs(), fixtures::xor_targets(), {.batch_size = 4}};
  Fixture() {
    manual_seed(21);
    model.compile(optim::SGD(net->parameters(), 0.1), nn::CrossEntropyLoss(), {metrics::Accuracy()});
  }
};

// Writes scores[epoch] as logs["score"] and keeps a copy of the weights after each epoch.
struct Scripted {
  std::vector<double> scores;
  std::vector<std::map<std::string, Tensor>> weights;
  CallbackPtr callback(Model& model) {
    return std::make_shared<LambdaCallback>(LambdaCallbackFns{.epoch_end = [this, &model](int epoch, Logs& logs) {
      logs["score"] = scores.at(epoch);
      std::map<std::string, Tensor> copy;
      for (auto& [k, t] : model.module().state_dict()) copy[k] = t.detach().clone();
      weights.push_back(copy);
    }});
  }
};

bool same_state(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (auto& [k, t] : a)
    if (!b.count(k) || !equal(t, b.at(k))) return false;
  return true;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(EarlyStopping, StopsAfterPatienceAndRestoresTheBestWeights) {
  Fixture f;
  Scripted script{.scores = {5, 3, 4, 4, 4, 4, 4, 4}};
  auto stop = std::make_shared<EarlyStopping>(
      EarlyStoppingOptions{.monitor = "score", .patience = 2, .restore_best_weights = true});
  History h = f.model.fit(f.train, {.epochs = 8, .callbacks = {script.callback(f.model), stop}, .verbose = 0});
  // Best at epoch 1; epochs 2 and 3 don't improve; patience 2 stops at epoch 3.
  EXPECT_EQ(h.epochs, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(stop->stopped_epoch, 3);
  EXPECT_EQ(stop->best_epoch, 1);
  EXPECT_EQ(stop->best, 3.0);
  ASSERT_EQ(script.weights.size(), 4u);
  EXPECT_FALSE(same_state(script.weights[1], script.weights[3]));
  EXPECT_TRUE(same_state(f.net->state_dict(), script.weights[1]));
}

TEST(EarlyStopping, ModeMaxAndMinDelta) {
  Fixture f;
  // Increases of 0.05 are below min_delta 0.1: no improvement after epoch 0.
  Scripted script{.scores = {0.5, 0.55, 0.6, 0.9, 0.9}};
  auto stop = std::make_shared<EarlyStopping>(
      EarlyStoppingOptions{.monitor = "score", .min_delta = 0.1, .patience = 1, .mode = Mode::Max});
  History h = f.model.fit(f.train, {.epochs = 5, .callbacks = {script.callback(f.model), stop}, .verbose = 0});
  EXPECT_EQ(h.epochs.size(), 2u);
  EXPECT_EQ(stop->best_epoch, 0);
  EXPECT_TRUE(increases(Mode::Auto, "val_accuracy"));
  EXPECT_FALSE(increases(Mode::Auto, "val_loss"));
}

TEST(EarlyStopping, MissingMonitorIsAnError) {
  Fixture f;
  auto stop = std::make_shared<EarlyStopping>();  // val_loss, but no validation data
  EXPECT_THROW(f.model.fit(f.train, {.epochs = 2, .callbacks = {stop}, .verbose = 0}), ValueError);
}

TEST(CSVLogger, WritesOneRowPerEpochAndAppends) {
  Fixture f;
  auto dir = fixtures::temp_dir("csv");
  std::string path = (dir / "log.csv").string();
  History h = f.model.fit(f.train, {.epochs = 3,
                                    .validation = &f.val,
                                    .callbacks = {std::make_shared<CSVLogger>(path)},
                                    .verbose = 0});
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  auto lines = lines_of(text.str());
  ASSERT_EQ(lines.size(), 4u) << text.str();
  EXPECT_EQ(lines[0], "epoch,loss,accuracy,val_loss,val_accuracy,lr");
  for (int e = 0; e < 3; ++e) {
    std::vector<std::string> cells;
    std::stringstream row(lines[e + 1]);
    for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
    ASSERT_EQ(cells.size(), 6u) << lines[e + 1];
    EXPECT_EQ(cells[0], std::to_string(e));
    // Values are written exactly: they read back as History's.
    EXPECT_EQ(std::stod(cells[1]), h["loss"][e]);
    EXPECT_EQ(std::stod(cells[2]), h["accuracy"][e]);
    EXPECT_EQ(std::stod(cells[3]), h["val_loss"][e]);
    EXPECT_EQ(std::stod(cells[4]), h["val_accuracy"][e]);
    EXPECT_EQ(std::stod(cells[5]), 0.1);
  }
  f.model.fit(f.train, {.epochs = 2,
                        .validation = &f.val,
                        .callbacks = {std::make_shared<CSVLogger>(path, CSVLoggerOptions{.append = true})},
                        .verbose = 0});
  std::ifstream again(path);
  std::stringstream text2;
  text2 << again.rdbuf();
  auto lines2 = lines_of(text2.str());
  ASSERT_EQ(lines2.size(), 6u) << text2.str();
  EXPECT_EQ(lines2[0], lines[0]);
  EXPECT_EQ(lines2[4].substr(0, 2), "0,");
  std::filesystem::remove_all(dir);
}

TEST(ModelCheckpoint, FormatsPaths) {
  Logs logs{{"val_loss", 0.123456}, {"accuracy", 0.5}};
  EXPECT_EQ(format_path("m-{epoch}.kiln", 2, logs), "m-3.kiln");
  EXPECT_EQ(format_path("m-{epoch:03d}-{val_loss:.4f}.kiln", 0, logs), "m-001-0.1235.kiln");
  EXPECT_EQ(format_path("{accuracy}-{{x}}", 0, logs), "0.5-{x}");
  EXPECT_EQ(format_path("{val_loss:.2e}", 0, logs), "1.23e-01");
  EXPECT_THROW(format_path("{val_acc}", 0, logs), ValueError);
  EXPECT_THROW(format_path("{epoch:>5}", 0, logs), ValueError);
  EXPECT_THROW(format_path("{epoch", 0, logs), ValueError);
}

TEST(ModelCheckpoint, BestOnlyWritesOnlyOnImprovement) {
  Fixture f;
  auto dir = fixtures::temp_dir("ckpt");
  Scripted script{.scores = {3, 2, 2.5, 1, 1}};
  auto ckpt = std::make_shared<ModelCheckpoint>((dir / "sub" / "m-{epoch:02d}-{score:.2f}.kiln").string(),
                                                ModelCheckpointOptions{.monitor = "score", .save_best_only = true});
  f.model.fit(f.train, {.epochs = 5, .callbacks = {script.callback(f.model), ckpt}, .verbose = 0});
  std::vector<std::string> expected;
  for (const char* name : {"m-01-3.00.kiln", "m-02-2.00.kiln", "m-04-1.00.kiln"})
    expected.push_back((dir / "sub" / name).string());
  EXPECT_EQ(ckpt->saved, expected);
  EXPECT_EQ(ckpt->best, 1.0);
  int files = 0;
  for (auto& entry : std::filesystem::directory_iterator(dir / "sub")) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 3);
  // The file of epoch 4 (index 3) holds that epoch's weights.
  nn::ModulePtr loaded = load(expected.back());
  EXPECT_TRUE(same_state(loaded->state_dict(), script.weights[3]));
  std::filesystem::remove_all(dir);
}

TEST(ModelCheckpoint, EveryEpochWithOptimizerState) {
  Fixture f;
  auto dir = fixtures::temp_dir("ckpt_all");
  auto ckpt = std::make_shared<ModelCheckpoint>((dir / "e{epoch}.kiln").string(),
                                                ModelCheckpointOptions{.include_optimizer = true});
  f.model.fit(f.train, {.epochs = 2, .callbacks = {ckpt}, .verbose = 0});
  ASSERT_EQ(ckpt->saved.size(), 2u);
  Checkpoint ck = load_checkpoint(ckpt->saved[1]);
  EXPECT_EQ(ck.epoch, 1);
  EXPECT_EQ(ck.optimizer, "SGD");
  std::filesystem::remove_all(dir);
}

TEST(TerminateOnNaN, StopsAtTheFirstNaNBatch) {
  auto net = nn::Sequential{nn::Linear(2, 2)};
  Model model(net);
  int calls = 0;
  model.compile(optim::SGD(net->parameters(), 0.1), [&calls](const Tensor& out, const Tensor& y) {
    Tensor loss = nn::functional::cross_entropy(out, y);
    return ++calls == 3 ? loss * std::numeric_limits<double>::quiet_NaN() : loss;
  });
  data::TensorBatches train(fixtures::xor_inputs(), fixtures::xor_targets(), {.batch_size = 1});
  auto nan = std::make_shared<TerminateOnNaN>();
  int64_t batches = 0;
  auto count = std::make_shared<LambdaCallback>(LambdaCallbackFns{.batch_end = [&](int64_t, const Logs&) { ++batches; }});
  ::testing::internal::CaptureStdout();
  History h = model.fit(train, {.epochs = 5, .callbacks = {count, nan}, .verbose = 0});
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(nan->stopped_batch, 2);
  EXPECT_EQ(batches, 3);
  EXPECT_EQ(h.epochs.size(), 1u);
  EXPECT_TRUE(std::isnan(h["loss"][0]));
  EXPECT_NE(out.find("Batch 2: Invalid loss"), std::string::npos) << out;
}

TEST(LearningRateScheduler, FunctionOfEpochAndLr) {
  Fixture f;
  auto sched = std::make_shared<LearningRateScheduler>([](int epoch, double lr) { return epoch == 0 ? lr : lr * 0.5; });
  History h = f.model.fit(f.train, {.epochs = 3, .callbacks = {sched}, .verbose = 0});
  EXPECT_EQ(h["lr"], (std::vector<double>{0.1, 0.05, 0.025}));
  EXPECT_EQ(f.model.optimizer().lr(), 0.025);
}

TEST(LearningRateScheduler, WrapsATorchStyleScheduler) {
  Fixture f;
  auto sched = std::make_shared<LearningRateScheduler>(
      [](optim::Optimizer& opt) { return std::make_shared<optim::StepLR>(opt, 1, 0.1); });
  History h = f.model.fit(f.train, {.epochs = 3, .callbacks = {sched}, .verbose = 0});
  ASSERT_EQ(h["lr"].size(), 3u);
  EXPECT_NEAR(h["lr"][0], 0.1, 1e-15);
  EXPECT_NEAR(h["lr"][1], 0.01, 1e-15);
  EXPECT_NEAR(h["lr"][2], 0.001, 1e-15);
  EXPECT_NEAR(f.model.optimizer().lr(), 1e-4, 1e-18);  // stepped after the last epoch too
}

TEST(LearningRateScheduler, ReduceLROnPlateauGetsTheMonitoredValue) {
  Fixture f;
  Scripted script{.scores = {1, 1, 1, 1, 1}};
  auto sched = std::make_shared<LearningRateScheduler>(
      [](optim::Optimizer& opt) { return std::make_shared<optim::ReduceLROnPlateau>(opt, "min", 0.5, 1); },
      LearningRateSchedulerOptions{.monitor = "score"});
  History h = f.model.fit(f.train, {.epochs = 5, .callbacks = {script.callback(f.model), sched}, .verbose = 0});
  // A flat score: after patience 1, every second epoch halves the lr.
  EXPECT_LT(h["lr"].back(), 0.1);
  EXPECT_EQ(h["lr"].front(), 0.1);
  auto missing = std::make_shared<LearningRateScheduler>(
      [](optim::Optimizer& opt) { return std::make_shared<optim::ReduceLROnPlateau>(opt); });
  EXPECT_THROW(f.model.fit(f.train, {.epochs = 1, .callbacks = {missing}, .verbose = 0}), ValueError);
}

TEST(ProgressBar, PlainLinesWhenNotATerminal) {
  Fixture f;
  ::testing::internal::CaptureStdout();
  f.model.fit(f.train, {.epochs = 2, .validation = &f.val, .verbose = 1});
  std::string out = ::testing::internal::GetCapturedStdout();
  auto lines = lines_of(out);
  ASSERT_EQ(lines.size(), 4u) << out;
  EXPECT_EQ(lines[0], "Epoch 1/2");
  EXPECT_EQ(lines[2], "Epoch 2/2");
  EXPECT_EQ(lines[1].rfind("2/2 [==============================] - ", 0), 0u) << lines[1];
  for (const char* part : {"/step - loss: ", " - accuracy: ", " - val_loss: ", " - val_accuracy: "})
    EXPECT_NE(lines[3].find(part), std::string::npos) << part << " in " << lines[3];
  EXPECT_EQ(lines[3].find("lr"), std::string::npos) << lines[3];
  EXPECT_EQ(out.find('\r'), std::string::npos);
}

TEST(ProgressBar, VerboseTwoAndPrintEvery) {
  Fixture f;
  std::ostringstream two;
  auto bar = std::make_shared<ProgressBar>(ProgressBarOptions{.verbose = 2, .out = &two});
  f.model.fit(f.train, {.epochs = 2, .callbacks = {bar}});
  auto lines = lines_of(two.str());
  ASSERT_EQ(lines.size(), 2u) << two.str();
  EXPECT_EQ(lines[1].rfind("Epoch 2/2 - ", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find(" - loss: "), std::string::npos) << lines[1];
  EXPECT_TRUE(lines[1].find("us/step") != std::string::npos || lines[1].find("ms/step") != std::string::npos)
      << lines[1];

  data::TensorBatches small(fixtures::xor_inputs(), fixtures::xor_targets(), {.batch_size = 1});
  std::ostringstream every;
  auto bar2 = std::make_shared<ProgressBar>(ProgressBarOptions{.out = &every, .print_every = 2});
  f.model.fit(small, {.epochs = 1, .callbacks = {bar2}});
  lines = lines_of(every.str());
  ASSERT_EQ(lines.size(), 3u) << every.str();  // header, step 2, final step 4
  std::string half = "2/4 [" + std::string(14, '=') + ">" + std::string(15, '.') + "] - ETA: ";
  EXPECT_EQ(lines[1].rfind(half, 0), 0u) << lines[1];
  EXPECT_EQ(lines[2].rfind("4/4 [==============================]", 0), 0u) << lines[2];
}

// A source that does not know its length (like an iterable dataset).
class UnknownLength : public data::BatchSource {
 public:
  UnknownLength() : inner_(fixtures::xor_inputs(), fixtures::xor_targets(), {.batch_size = 1}) {}
  void start_epoch(int64_t epoch) override { inner_.start_epoch(epoch); }
  std::optional<data::Batch> next() override { return inner_.next(); }
  int64_t num_batches() const override { return -1; }

 private:
  data::TensorBatches inner_;
};

TEST(ProgressBar, LearnsTheLengthOfAnUnknownSource) {
  Fixture f;
  UnknownLength source;
  std::ostringstream out;
  auto bar = std::make_shared<ProgressBar>(ProgressBarOptions{.out = &out, .print_every = 2});
  f.model.fit(source, {.epochs = 2, .callbacks = {bar}});
  auto lines = lines_of(out.str());
  // Epoch 1: every 2nd step (the end isn't known in advance, so step 4 prints too), then the
  // final line with the length learnt; epoch 2 draws a real bar.
  ASSERT_EQ(lines.size(), 7u) << out.str();
  EXPECT_EQ(lines[1].rfind("      2/Unknown - ", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2].rfind("      4/Unknown - ", 0), 0u) << lines[2];
  EXPECT_EQ(lines[3].rfind("4/4 [==============================]", 0), 0u) << lines[3];
  EXPECT_EQ(lines[5].rfind("2/4 [", 0), 0u) << lines[5];
}

TEST(ProgressBar, RedrawsInPlaceOnATerminal) {
  Fixture f;
  std::ostringstream tty;
  auto bar = std::make_shared<ProgressBar>(ProgressBarOptions{.out = &tty, .terminal = true, .min_interval_s = 0});
  data::TensorBatches small(fixtures::xor_inputs(), fixtures::xor_targets(), {.batch_size = 1});
  f.model.fit(small, {.epochs = 1, .callbacks = {bar}});
  std::string out = tty.str();
  std::string quarter = "\r1/4 [" + std::string(6, '=') + ">" + std::string(23, '.') + "] - ETA: ";
  EXPECT_NE(out.find(quarter), std::string::npos) << out;
  EXPECT_NE(out.find("\r4/4 [==============================] - "), std::string::npos) << out;
  EXPECT_EQ(out.back(), '\n');
}

TEST(ProgressBar, FormatsValuesLikeKeras) {
  EXPECT_EQ(format_value(0.44121), "0.4412");
  EXPECT_EQ(format_value(12.0), "12.0000");
  EXPECT_EQ(format_value(1.5e-5), "1.5000e-05");
  EXPECT_EQ(format_value(0.0), "0.0000");
}

TEST(Callback, ModelIsOnlyReachableDuringFit) {
  Fixture f;
  auto probe = std::make_shared<LambdaCallback>(LambdaCallbackFns{});
  EXPECT_THROW(probe->model(), ValueError);
  Model* seen = nullptr;
  probe->fns.train_begin = [&](const Logs&) { seen = &probe->model(); };
  f.model.fit(f.train, {.epochs = 1, .callbacks = {probe}, .verbose = 0});
  EXPECT_EQ(seen, &f.model);
  EXPECT_THROW(probe->model(), ValueError);
  EXPECT_EQ(probe->params().epochs, 1);
  EXPECT_EQ(probe->params().steps, 2);
}

}  // namespace
