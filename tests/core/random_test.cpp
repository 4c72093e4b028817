// Seeded random numbers: determinism, ranges, permutations.
#include <gtest/gtest.h>
#include <kiln/ops.hpp>
#include <kiln/plugin/philox.h>
#include <kiln/random.hpp>
#include <kiln/tensor.hpp>

#include <algorithm>
#include <numeric>
#include <set>
#include <vector>

namespace {

using kiln::Tensor;

TEST(core_random, SeededDeterminism) {
  kiln::manual_seed(42);
  auto a = kiln::rand({100}).to_vector<float>();
  auto b = kiln::randn({3, 5}).to_vector<float>();
  kiln::manual_seed(42);
  EXPECT_EQ(kiln::rand({100}).to_vector<float>(), a);
  EXPECT_EQ(kiln::randn({3, 5}).to_vector<float>(), b);
  // The stream advances: the next draw differs.
  EXPECT_NE(kiln::rand({100}).to_vector<float>(), a);
  kiln::manual_seed(43);
  EXPECT_NE(kiln::rand({100}).to_vector<float>(), a);
}

TEST(core_random, GeneratorsAreIndependentAndStateful) {
  kiln::Generator g1(7), g2(7);
  auto x = kiln::rand({10}, {}, &g1).to_vector<float>();
  EXPECT_EQ(g1.offset(), 10u);
  EXPECT_EQ(kiln::rand({10}, {}, &g2).to_vector<float>(), x);
  // Saving and restoring (seed, offset) replays the stream.
  kiln::Generator g3(1);
  g3.set_state(7, 0);
  EXPECT_EQ(kiln::rand({10}, {}, &g3).to_vector<float>(), x);
  kiln::Generator g4(7);
  g4.set_state(7, 5);
  auto tail = kiln::rand({5}, {}, &g4).to_vector<float>();
  EXPECT_EQ(tail, std::vector<float>(x.begin() + 5, x.end()));
}

TEST(core_random, MatchesPhiloxFormulas) {
  kiln::Generator g(123);
  auto v = kiln::rand({4}, {.dtype = kiln::kFloat32}, &g).to_vector<float>();
  for (uint64_t i = 0; i < 4; ++i)
    EXPECT_EQ(v[i], static_cast<float>(kiln_random_uniform(123, i, 0, 0.0, 1.0))) << i;
  auto n = kiln::randn({3}, {.dtype = kiln::kFloat64}, &g).to_vector<double>();
  for (uint64_t i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(n[i], kiln_random_normal(123, 4 + i, 0.0, 1.0)) << i;
}

TEST(core_random, UniformRangeAndMoments) {
  kiln::Generator g(5);
  auto v = kiln::rand({20000}, {.dtype = kiln::kFloat64}, &g).to_vector<double>();
  double sum = 0;
  for (double x : v) {
    ASSERT_GE(x, 0.0);
    ASSERT_LT(x, 1.0);
    sum += x;
  }
  EXPECT_NEAR(sum / v.size(), 0.5, 0.01);
  Tensor t = kiln::empty({5000});
  kiln::uniform_(t, -3, -1, &g);
  auto u = t.to_vector<float>();
  EXPECT_TRUE(std::all_of(u.begin(), u.end(), [](float x) { return x >= -3 && x < -1; }));
  Tensor n = kiln::empty({20000}, {.dtype = kiln::kFloat64});
  kiln::normal_(n, 2.0, 0.5, &g);
  EXPECT_NEAR(kiln::mean(n).item<double>(), 2.0, 0.02);
  EXPECT_NEAR(kiln::std(n).item<double>(), 0.5, 0.02);
  EXPECT_THROW(kiln::normal_(n, 0, -1, &g), kiln::ValueError);
  EXPECT_THROW(kiln::rand({2}, {.dtype = kiln::kInt32}), kiln::DTypeError);
}

TEST(core_random, RandintRange) {
  kiln::Generator g(9);
  Tensor r = kiln::randint(-3, 4, {4000}, {.dtype = kiln::kInt64}, &g);
  EXPECT_EQ(r.dtype(), kiln::kInt64);
  auto v = r.to_vector<int64_t>();
  std::set<int64_t> seen(v.begin(), v.end());
  EXPECT_EQ(seen, (std::set<int64_t>{-3, -2, -1, 0, 1, 2, 3}));  // every value, nothing outside [low, high)
  auto w = kiln::randint(0, 2, {1000}, {.dtype = kiln::kInt32}, &g).to_vector<int32_t>();
  EXPECT_TRUE(std::all_of(w.begin(), w.end(), [](int32_t x) { return x == 0 || x == 1; }));
  EXPECT_THROW(kiln::randint(5, 5, {3}), kiln::ValueError);
}

TEST(core_random, RandpermIsAReproduciblePermutation) {
  kiln::Generator g1(11), g2(11);
  auto p = kiln::randperm(50, &g1).to_vector<int64_t>();
  auto sorted = p;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(50);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  EXPECT_NE(p, iota);  // shuffled (probability of identity is 1/50!)
  EXPECT_EQ(kiln::randperm(50, &g2).to_vector<int64_t>(), p);
  EXPECT_NE(kiln::randperm(50, &g1).to_vector<int64_t>(), p);  // the generator advanced
  EXPECT_EQ(kiln::randperm(0, &g1).numel(), 0);
  EXPECT_EQ(kiln::randperm(1, &g1).to_vector<int64_t>(), (std::vector<int64_t>{0}));
  EXPECT_THROW(kiln::randperm(-1), kiln::ValueError);
}

TEST(core_random, Bernoulli) {
  kiln::Generator g(3);
  Tensor like = kiln::zeros({10000});
  auto v = kiln::bernoulli(like, 0.25, &g).to_vector<float>();
  double ones = 0;
  for (float x : v) {
    ASSERT_TRUE(x == 0.0f || x == 1.0f);
    ones += x;
  }
  EXPECT_NEAR(ones / v.size(), 0.25, 0.02);
  EXPECT_THROW(kiln::bernoulli(like, 1.5), kiln::ValueError);
  // Filling a non-contiguous tensor draws in logical order.
  kiln::Generator a(77), b(77);
  Tensor base = kiln::zeros({4, 3});
  Tensor view = base.t();
  kiln::uniform_(view, 0, 1, &a);
  EXPECT_EQ(view.to_vector<float>(), kiln::rand({3, 4}, {}, &b).to_vector<float>());
}

}  // namespace
