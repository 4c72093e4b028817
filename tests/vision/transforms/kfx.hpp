// Reads the .kfx fixtures written by scripts/make_vision_fixtures.py (torchvision's outputs):
// b"KILNFIX1", uint32 dtype (0 = float32, 1 = uint8), uint32 rank, rank x int64 extents, elements.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <kiln/tensor.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::test {

inline std::string fixture_path(const std::string& name) {
  return std::string(KILN_VISION_FIXTURES) + "/" + name;
}

inline Tensor read_kfx(const std::string& name) {
  std::string path = fixture_path(name + ".kfx");
  std::ifstream f(path, std::ios::binary);
  if (!f)
    throw std::runtime_error("missing fixture " + path + " (scripts/make_vision_fixtures.py writes it)");
  std::vector<char> d((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (d.size() < 16 || std::memcmp(d.data(), "KILNFIX1", 8) != 0)
    throw std::runtime_error("bad fixture " + path);
  uint32_t code, rank;
  std::memcpy(&code, d.data() + 8, 4);
  std::memcpy(&rank, d.data() + 12, 4);
  std::vector<int64_t> dims(rank);
  std::memcpy(dims.data(), d.data() + 16, 8 * rank);
  size_t at = 16 + 8 * rank, n = 1;
  for (int64_t e : dims) n *= static_cast<size_t>(e);
  Shape shape(dims);
  if (code == 1) {
    std::vector<uint8_t> v(d.begin() + static_cast<std::ptrdiff_t>(at),
                           d.begin() + static_cast<std::ptrdiff_t>(at + n));
    return from_vector(v, shape);
  }
  std::vector<float> v(n);
  std::memcpy(v.data(), d.data() + at, 4 * n);
  return from_vector(v, shape);
}

// Largest |a - b| (infinity when the shapes differ).
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return INFINITY;
  std::vector<float> x = a.to_vector<float>(), y = b.to_vector<float>();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, static_cast<double>(std::abs(x[i] - y[i])));
  return m;
}

// Kiln's output `got` equals torchvision's fixture `name` within 1/255.
#define EXPECT_MATCHES_TORCHVISION(got, name)                                                  \
  do {                                                                                         \
    ::kiln::Tensor expected_ = ::kiln::test::read_kfx(name);                                   \
    ::kiln::Tensor got_ = (got);                                                               \
    ASSERT_EQ(got_.shape(), expected_.shape()) << name;                                        \
    EXPECT_LE(::kiln::test::max_abs_diff(got_, expected_), 1.0 / 255.0) << "fixture " << name; \
  } while (0)

}  // namespace kiln::test
