// Trains a small MLP on synthetic data (three Gaussian blobs in 2-D), saves it as a .kiln file,
// reloads it and checks the reloaded model gives the same outputs, then writes a probe file (a
// few inputs and the outputs the model gives) that the C example (infer_c) checks against.
//
//   train_mlp MODEL.kiln [PROBE.txt]
//
// The hidden activation is the custom layer "Swish" when a layer plugin provides it (the example
// swish_layer.so on KILN_PLUGIN_PATH or in <prefix>/lib/kiln/layers), else the built-in SiLU.
// Keras style (Model::compile/fit) for training, then a few PyTorch-style steps to fine-tune.
#include <kiln/kiln.hpp>

#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

using namespace kiln;

namespace {

constexpr int64_t kClasses = 3;

// n points per class around three centres; labels 0, 1, 2.
data::Batch blobs(int64_t n_per_class, uint32_t seed) {
  const float centres[kClasses][2] = {{-2.0f, 0.0f}, {2.0f, 0.0f}, {0.0f, 2.5f}};
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.6f);
  std::vector<float> x;
  std::vector<int64_t> y;
  for (int64_t i = 0; i < n_per_class; ++i)
    for (int64_t c = 0; c < kClasses; ++c) {
      x.push_back(centres[c][0] + noise(rng));
      x.push_back(centres[c][1] + noise(rng));
      y.push_back(c);
    }
  const int64_t n = n_per_class * kClasses;
  return {from_vector(x, {n, 2}), from_vector(y, {n})};
}

// The activation: a plugin's layer looked up by name, so this program has no compile-time
// dependency on the plugin.
nn::ModulePtr activation() {
  if (const nn::LayerRegistration* swish = nn::find_layer("Swish")) {
    std::cout << "activation: Swish from layer plugin " << swish->provider << "\n";
    return swish->factory({{"beta", 1.0}});
  }
  std::cout << "activation: SiLU (no layer plugin provides Swish; set KILN_PLUGIN_PATH)\n";
  return nn::SiLU();
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 2) {
    std::cerr << "usage: train_mlp MODEL.kiln [PROBE.txt]\n";
    return 2;
  }
  const std::string model_path = argv[1];
  manual_seed(42);
  std::cout << "Kiln " << KILN_VERSION_STRING << ", device " << default_device().str() << "\n";

  nn::Sequential net{nn::Linear(2, 16), activation(), nn::Linear(16, kClasses)};
  std::cout << net->str() << "\n";

  // Keras style.
  data::Batch train = blobs(100, 1), test = blobs(30, 2);
  data::TensorBatches train_batches(train.input, train.target, {.batch_size = 32, .shuffle = true, .seed = 7});
  data::TensorBatches test_batches(test.input, test.target, {.batch_size = 90});
  Model model(net);
  model.compile(optim::Adam(net->parameters(), 0.05), nn::CrossEntropyLoss(), {metrics::Accuracy()});
  History history = model.fit(train_batches, {.epochs = 15, .validation = &test_batches, .verbose = 0});
  std::printf("after fit: loss %.4f, val_accuracy %.3f\n", history["loss"].back(), history["val_accuracy"].back());

  // PyTorch style: a few more steps with a smaller learning rate.
  optim::SGD opt(net->parameters(), 0.01);
  net->train();
  for (int epoch = 0; epoch < 2; ++epoch) {
    train_batches.start_epoch(epoch);
    while (auto batch = train_batches.next()) {
      opt.zero_grad();
      Tensor loss = nn::functional::cross_entropy(net(batch->input), batch->target);
      loss.backward();
      opt.step();
    }
  }
  net->eval();
  Logs logs = model.evaluate(test_batches);
  std::printf("test accuracy %.3f\n", logs["accuracy"]);

  save(*net, model_path);
  nn::ModulePtr reloaded = load(model_path);
  reloaded->eval();
  Tensor expected, got;
  {
    NoGradGuard no_grad;
    expected = net(test.input);
    got = (*reloaded)(test.input);
  }
  if (!allclose(got, expected, 1e-6, 1e-6)) {
    std::cerr << "reloaded model disagrees with the trained one\n";
    return 1;
  }
  std::cout << "saved " << model_path << " and reloaded it: outputs match\n";

  if (argc > 2) {  // the probe: "n in out", then per row its inputs and the expected outputs
    std::ofstream probe(argv[2]);
    const int64_t rows = 6;
    std::vector<float> x = test.input.narrow(0, 0, rows).contiguous().to_vector<float>();
    std::vector<float> y = expected.narrow(0, 0, rows).contiguous().to_vector<float>();
    std::vector<int64_t> labels = test.target.narrow(0, 0, rows).to_vector<int64_t>();
    probe << rows << " 2 " << kClasses << "\n";
    probe.precision(9);
    for (int64_t r = 0; r < rows; ++r) {
      probe << x[r * 2] << " " << x[r * 2 + 1];
      for (int64_t c = 0; c < kClasses; ++c) probe << " " << y[r * kClasses + c];
      probe << " " << labels[r] << "\n";
    }
    std::cout << "wrote probe " << argv[2] << "\n";
  }
  return logs["accuracy"] > 0.9 ? 0 : 1;
} catch (const std::exception& e) {
  std::cerr << "train_mlp: " << e.what() << "\n";
  return 1;
}
