// kiln train: trains a reference model on an image data set with kiln::Model::fit, validating on
// the test set every epoch, then saves the model, its history and (optionally) a JSON summary.
#include "commands.hpp"
#include "vision_data.hpp"
#if defined(KILN_CLI_HAS_TEXT)
#include "train_text.hpp"
#endif

#include <kiln/callbacks.hpp>
#include <kiln/data.hpp>
#include <kiln/data/dataloader.hpp>
#include <kiln/device.hpp>
#include <kiln/model.hpp>
#include <kiln/optim.hpp>
#include <kiln/random.hpp>
#include <kiln/serialize.hpp>
#include <kiln/vision/models.hpp>
#if defined(KILN_VISION_HAS_OPENCV)
#include <kiln/vision/plot.hpp>
#endif

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <numeric>

namespace kiln::cli {
namespace {

using Clock = std::chrono::steady_clock;

// LeNet-5 on Fashion-MNIST with the tbb backend costs about 25 s of CPU per epoch (training,
// validation and loading included) on the project's 2-core machines: five epochs make the default
// run about two minutes, and reach ~0.88-0.89 test accuracy.
constexpr int kDefaultEpochs = 5;


std::string history_path_for(const std::string& out) {
  std::string stem = out;
  if (stem.size() > 5 && stem.compare(stem.size() - 5, 5, ".kiln") == 0) stem.resize(stem.size() - 5);
  return stem + ".history.csv";
}

void declare(Options& o) {
  o.visible.add_options()
      ("task", po::value<std::string>()->default_value("image"),
       "image (the options below), langid (language ID on Debian's fortunes) or lm (word LSTM language model on "
       "the English fortunes); see docs/text.md")
      ("model", po::value<std::string>()->default_value("lenet"), "mlp, lenet, cnn-bn, resnet18 or resnet34")
      ("dataset", po::value<std::string>()->default_value("fashion-mnist"),
       "fashion-mnist, mnist, kmnist, cifar10 or cifar100")
      ("data-dir", po::value<std::string>()->default_value(""),
       "folder with the data set's files (default: $KILN_DATA_DIR, /usr/share/datasets/<name>, "
       "~/.local/share/kiln/datasets/<name>)")
      ("backend", po::value<std::string>(), "device to train on: tbb, ref, blas, cuda:0, ... (default: KILN_BACKEND, else cpu)")
      ("epochs", po::value<int>()->default_value(kDefaultEpochs), "epochs to train")
      ("batch-size", po::value<int64_t>()->default_value(64), "training batch size (the last partial batch is dropped)")
      ("lr", po::value<double>(), "learning rate (default: 0.05 for sgd, 0.001 for adam)")
      ("optimizer", po::value<std::string>()->default_value("sgd"), "sgd (momentum 0.9) or adam")
      ("schedule", po::value<std::string>()->default_value("none"),
       "learning-rate schedule: none (constant), or cosine (from --lr down to 0 along a half cosine over all "
       "the training batches, stepped after each batch)")
      ("seed", po::value<uint64_t>()->default_value(0), "seed for the initial weights and the shuffling")
      ("workers", po::value<int>()->default_value(0),
       "DataLoader worker threads; 0 keeps the whole training set as tensors and batches it in place")
      ("out", po::value<std::string>(), "where to save the trained model (default: <model>-<dataset>.kiln)")
      ("json", po::value<std::string>(), "also write a JSON summary (model, backend, epochs, params, "
       "test_accuracy, train_samples_per_s, infer_samples_per_s) to this file")
      ("limit", po::value<int64_t>(), "train on the first N training samples only (quick runs)");
#if defined(KILN_CLI_HAS_TEXT)
  declare_text_train_options(o);
#endif
}

int run(const po::variables_map& vm) {
  if (const std::string task = vm["task"].as<std::string>(); task != "image") {
#if defined(KILN_CLI_HAS_TEXT)
    return run_text_task(task, vm);
#else
    throw UsageError("--task " + task + " needs Kiln built with text/ (-DKILN_BUILD_TEXT=ON)");
#endif
  }
  const std::string model_name = vm["model"].as<std::string>();
  const std::string dataset_name = vm["dataset"].as<std::string>();
  const std::string optimizer_name = vm["optimizer"].as<std::string>();
  const int epochs = vm["epochs"].as<int>();
  const int64_t batch_size = vm["batch-size"].as<int64_t>();
  const uint64_t seed = vm["seed"].as<uint64_t>();
  const int workers = vm["workers"].as<int>();
  if (optimizer_name != "sgd" && optimizer_name != "adam")
    throw UsageError("unknown optimizer '" + optimizer_name + "' (expected sgd or adam)");
  const std::string schedule = vm["schedule"].as<std::string>();
  if (schedule != "none" && schedule != "cosine")
    throw UsageError("unknown schedule '" + schedule + "' (expected none or cosine)");
  if (epochs < 1) throw UsageError("--epochs must be at least 1");
  if (batch_size < 1) throw UsageError("--batch-size must be at least 1");
  if (workers < 0) throw UsageError("--workers must be >= 0");
  const double lr = vm.count("lr") ? vm["lr"].as<double>() : (optimizer_name == "sgd" ? 0.05 : 1e-3);
  const std::string out = vm.count("out") ? vm["out"].as<std::string>() : model_name + "-" + dataset_name + ".kiln";
  const std::string history_file = history_path_for(out);

  DatasetSpec spec = dataset_spec(dataset_name);
  if (vm.count("backend")) set_default_device(Device(vm["backend"].as<std::string>()));
  const std::string device = default_device().str();
  manual_seed(seed);
  nn::ModulePtr net = make_model(model_name, spec);  // checks the model/data set pair before loading

  // ---- data
  const std::string data_dir = vm["data-dir"].as<std::string>();
  Split train = load_split(spec, data_dir, /*train=*/true, /*as_tensors=*/workers == 0);
  Split test = load_split(spec, data_dir, /*train=*/false, /*as_tensors=*/true);
  int64_t train_count = train.dataset->size();
  if (vm.count("limit")) {
    int64_t limit = vm["limit"].as<int64_t>();
    if (limit < 1) throw UsageError("--limit must be at least 1");
    train_count = std::min(train_count, limit);
  }
  if (train_count < batch_size)
    throw UsageError("--batch-size " + std::to_string(batch_size) + " is larger than the " +
                     std::to_string(train_count) + " training samples (batches are full: the last partial one is dropped)");
  std::unique_ptr<data::BatchSource> train_batches;
  if (workers == 0) {
    Tensor x = train.tensors.inputs, y = train.tensors.targets;
    if (train_count < x.size(0)) x = x.narrow(0, 0, train_count), y = y.narrow(0, 0, train_count);
    train_batches = std::make_unique<data::TensorBatches>(
        x, y, data::TensorBatchesOptions{.batch_size = batch_size, .shuffle = true, .drop_last = true, .seed = seed});
  } else {
    data::DatasetPtr ds = train.dataset;
    if (train_count < ds->size()) {
      std::vector<int64_t> first(static_cast<size_t>(train_count));
      std::iota(first.begin(), first.end(), int64_t{0});
      ds = std::make_shared<data::Subset>(ds, std::move(first));
    }
    train_batches = std::make_unique<data::DataLoader>(
        ds, data::DataLoaderOptions{.batch_size = batch_size, .shuffle = true, .drop_last = true, .seed = seed,
                                    .num_workers = workers});
  }
  const int64_t test_count = test.tensors.inputs.size(0);
  data::TensorBatches test_batches(test.tensors.inputs, test.tensors.targets, {.batch_size = 1000});

  // ---- model
  Model model(net);
  if (optimizer_name == "sgd")
    model.compile(optim::SGD(net->parameters(), lr, {.momentum = 0.9}), "cross_entropy", {"accuracy"});
  else
    model.compile(optim::Adam(net->parameters(), lr), "cross_entropy", {"accuracy"});
  model.summary({spec.channels, spec.image_size, spec.image_size});
  const int64_t params = vision::models::count_parameters(*net);
  std::cout << "\nTraining " << model_name << " on " << dataset_name << " (" << train_count << " training, "
            << test_count << " test images) on " << device << ": " << (optimizer_name == "sgd" ? "SGD" : "Adam")
            << " lr " << lr << (optimizer_name == "sgd" ? " momentum 0.9" : "") << ", batch " << batch_size << ", "
            << epochs << (epochs == 1 ? " epoch" : " epochs") << (schedule == "cosine" ? ", cosine schedule" : "")
            << ", seed " << seed
            << (workers > 0 ? ", " + std::to_string(workers) + " loader workers" : std::string()) << "\n";

  // Training time excludes the validation pass that follows each epoch's last batch.
  double train_seconds = 0;
  int64_t trained_samples = 0;
  Clock::time_point epoch_start, last_batch;
  auto timer = std::make_shared<callbacks::LambdaCallback>(callbacks::LambdaCallbackFns{
      .epoch_begin = [&](int, const Logs&) { epoch_start = last_batch = Clock::now(); },
      .epoch_end =
          [&](int, Logs&) {
            train_seconds += std::chrono::duration<double>(last_batch - epoch_start).count();
            trained_samples += train_batches->num_samples() / batch_size * batch_size;
          },
      .batch_end = [&](int64_t, const Logs&) { last_batch = Clock::now(); },
  });
  std::vector<std::shared_ptr<callbacks::Callback>> fit_callbacks{std::make_shared<callbacks::ProgressBar>(), timer,
                                                                  std::make_shared<callbacks::CSVLogger>(history_file)};
  if (schedule == "cosine") {
    const int64_t total_batches = static_cast<int64_t>(epochs) * (train_batches->num_samples() / batch_size);
    fit_callbacks.push_back(std::make_shared<callbacks::LearningRateScheduler>(
        callbacks::LearningRateScheduler::SchedulerFactory([total_batches](optim::Optimizer& o) {
          return std::make_shared<optim::CosineAnnealingLR>(o, std::max<int64_t>(total_batches, 1));
        }),
        callbacks::LearningRateSchedulerOptions{.per_batch = true}));
  }
  auto start = Clock::now();
  History history =
      model.fit(*train_batches, {.epochs = epochs, .validation = &test_batches, .callbacks = fit_callbacks});
  double fit_seconds = seconds_since(start);

  // ---- test
  auto infer_start = Clock::now();
  Logs test_logs = model.evaluate(test_batches);
  double infer_seconds = seconds_since(infer_start);
  const double accuracy = test_logs.at("accuracy");
  const double train_rate = train_seconds > 0 ? static_cast<double>(trained_samples) / train_seconds : 0.0;
  const double infer_rate = infer_seconds > 0 ? static_cast<double>(test_count) / infer_seconds : 0.0;

  net->eval();
  nlohmann::ordered_json metadata = {
      {"model", model_name},
      {"dataset", dataset_name},
      {"input_shape", {spec.channels, spec.image_size, spec.image_size}},
      {"num_classes", spec.num_classes},
      {"classes", test.classes},
      {"normalize", {{"mean", spec.mean}, {"std", spec.std}}},
      {"epochs", static_cast<int>(history.epochs.size())},
      {"test_accuracy", accuracy},
  };
  save_checkpoint(out, *net, nullptr, static_cast<int64_t>(history.epochs.size()) - 1, metadata);

  char line[160];
  std::snprintf(line, sizeof line, "\nTest accuracy: %.4f (loss %.4f, %lld images)\n", accuracy, test_logs.at("loss"),
                static_cast<long long>(test_count));
  std::cout << line;
  std::snprintf(line, sizeof line, "Time: %.1f s in fit (training %.0f samples/s), inference %.0f samples/s\n",
                fit_seconds, train_rate, infer_rate);
  std::cout << line;
  std::cout << "Model saved to " << out << "\nHistory written to " << history_file << "\n";
#if defined(KILN_VISION_HAS_OPENCV)
  {
    std::string curves = history_file.substr(0, history_file.size() - 4) + ".png";  // <stem>.history.png
    vision::plot_training_curves(history.history, curves);
    std::cout << "Training curves plotted to " << curves << "\n";
  }
#endif
  if (vm.count("json")) {
    const std::string json_file = vm["json"].as<std::string>();
    nlohmann::ordered_json summary = {
        {"model", model_name},
        {"dataset", dataset_name},
        {"backend", device},
        {"epochs", static_cast<int>(history.epochs.size())},
        {"params", params},
        {"test_accuracy", accuracy},
        {"test_loss", test_logs.at("loss")},
        {"train_samples_per_s", train_rate},
        {"infer_samples_per_s", infer_rate},
        {"train_samples", train_count},
        {"batch_size", batch_size},
        {"optimizer", optimizer_name},
        {"lr", lr},
        {"schedule", schedule},
        {"seed", seed},
        {"workers", workers},
        {"fit_seconds", fit_seconds},
        {"model_file", out},
        {"history_file", history_file},
    };
    std::ofstream f(json_file);
    f << summary.dump(2) << "\n";
    f.close();
    if (!f) throw DataError(json_file + ": cannot write the JSON summary");
    std::cout << "Summary written to " << json_file << "\n";
  }
  return kExitOk;
}

}  // namespace

KILN_CLI_COMMAND(train, {.name = "train",
                         .summary = "Train a reference model on an image data set (Fashion-MNIST by default) or "
                                    "a text model (--task langid|lm)",
                         .usage = "kiln train [--model mlp|lenet|cnn-bn|resnet18|resnet34] "
                                  "[--dataset fashion-mnist|mnist|kmnist|cifar10|cifar100] [options]\n"
                                  "       kiln train --task langid|lm [options]",
                         .description =
                             "Prints the model summary, trains with Model::fit (progress bar, validation on the "
                             "test set after every epoch), prints the test accuracy and saves the model (a .kiln "
                             "file that `kiln eval` and `kiln summary` read) and its history as CSV beside it "
                             "(<out minus .kiln>.history.csv). Defaults: LeNet-5 on Fashion-MNIST (Debian's "
                             "dataset-fashion-mnist), SGD lr 0.05 momentum 0.9, batch 64, inputs normalized "
                             "with the training set's mean and std. With --task langid or lm (docs/text.md) "
                             "--data-dir is the fortunes folder (default /usr/share/games/fortunes), --limit caps the "
                             "records (per language for langid), and epochs, batch size and optimizer default per task "
                             "(langid: 3, 64, adam 0.01; lm: 2, 32, adam 0.002).",
                         .declare = declare,
                         .run = run});

}  // namespace kiln::cli
