// Runs inference on a saved model with the inference-only part of the SDK: the thin core
// (tensors, dispatch, backends, nn::Module), the layers and .kiln loading. It includes no
// training header and links neither libkiln_optim nor libkiln_train (see CMakeLists.txt).
//
//   infer_cpp MODEL.kiln [PROBE.txt]
//
// Prints the model and the class it predicts for a few inputs. With a probe file written by
// train_mlp (rows, inputs, outputs, then per row the inputs, the outputs and the label), it runs
// the probe inputs as one batch and exits 1 unless every output matches within 1e-4.
#include <kiln/autograd.hpp>   // NoGradGuard
#include <kiln/nn/module.hpp>
#include <kiln/ops.hpp>
#include <kiln/serialize.hpp>  // kiln::load
#include <kiln/tensor.hpp>

#include <algorithm>
#include <cmath>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

int run_probe(kiln::nn::Module& model, const std::string& path) {
  std::ifstream in(path);
  int64_t rows = 0, inputs = 0, outputs = 0;
  if (!(in >> rows >> inputs >> outputs) || rows <= 0 || inputs <= 0 || outputs <= 0) {
    std::cerr << "infer_cpp: " << path << ": expected 'rows inputs outputs' on the first line\n";
    return 1;
  }
  std::vector<float> x(rows * inputs), expected(rows * outputs);
  std::vector<int64_t> labels(rows);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = 0; k < inputs; ++k) in >> x[r * inputs + k];
    for (int64_t k = 0; k < outputs; ++k) in >> expected[r * outputs + k];
    in >> labels[r];
  }
  if (!in) {
    std::cerr << "infer_cpp: " << path << ": fewer numbers than " << rows << " rows of " << inputs << " + "
              << outputs << " + 1\n";
    return 1;
  }
  kiln::NoGradGuard no_grad;
  kiln::Tensor y = model(kiln::from_vector(x, {rows, inputs})).contiguous();
  std::vector<float> got = y.to_vector<float>();
  std::vector<int64_t> predicted = kiln::argmax(y, 1).to_vector<int64_t>();
  double worst = 0;
  int64_t same = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(double(got[i]) - expected[i]));
  for (int64_t r = 0; r < rows; ++r) same += predicted[r] == labels[r];
  std::cout << "probe: " << rows << " rows, largest difference from the training program's outputs " << worst << ", "
            << same << "/" << rows << " same class\n";
  return worst <= 1e-4 && same == rows ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 2) {
    std::cerr << "usage: infer_cpp MODEL.kiln [PROBE.txt]\n";
    return 2;
  }
  kiln::nn::ModulePtr model = kiln::load(argv[1]);
  model->eval();
  std::cout << model->str() << "\n";
  int rc = argc > 2 ? run_probe(*model, argv[2]) : 0;
  std::cout << (rc == 0 ? "OK" : "MISMATCH") << "\n";
  return rc;
} catch (const std::exception& e) {
  std::cerr << "infer_cpp: " << e.what() << "\n";
  return 1;
}
