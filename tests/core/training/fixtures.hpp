// Small synthetic problems for the training tests, built in memory.
#pragma once

#include <kiln/ops.hpp>
#include <kiln/random.hpp>
#include <kiln/tensor.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <unistd.h>
#include <string>
#include <vector>

namespace kiln::fixtures {

// XOR: 4 points, class 1 when exactly one coordinate is 1.
inline Tensor xor_inputs() { return from_vector(std::vector<float>{0, 0, 0, 1, 1, 0, 1, 1}, {4, 2}); }
inline Tensor xor_targets() { return from_vector(std::vector<int64_t>{0, 1, 1, 0}, {4}); }

// Two interleaved spirals, n points each (class 0 and class 1), 1.5 turns, radius up to 1.
struct Spirals {
  Tensor x, y;
};
inline Spirals two_spirals(int64_t n) {
  std::vector<float> x;
  std::vector<int64_t> y;
  const double pi = 3.14159265358979323846;
  for (int64_t cls = 0; cls < 2; ++cls) {
    for (int64_t i = 0; i < n; ++i) {
      double r = 0.1 + 0.9 * static_cast<double>(i) / static_cast<double>(n);
      double t = 3.0 * pi * static_cast<double>(i) / static_cast<double>(n) + pi * static_cast<double>(cls);
      x.push_back(static_cast<float>(r * std::cos(t)));
      x.push_back(static_cast<float>(r * std::sin(t)));
      y.push_back(cls);
    }
  }
  return {from_vector(x, {2 * n, 2}), from_vector(y, {2 * n})};
}

// A linearly separable blob problem: class = (x0 + x1 > 0), n samples drawn with seed.
inline Spirals blobs(int64_t n, uint64_t seed) {
  Generator gen(seed);
  Tensor x = randn({n, 2}, {}, &gen);
  Tensor y = cast(gt(x.sum({1}), 0.0), DType::Int64);
  return {x, y};
}

// A fresh, empty temporary folder for one test.
inline std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("kiln_training_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace kiln::fixtures
