#include <kiln/data/dataset.hpp>

#include <kiln/error.hpp>
#include <kiln/ops.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

namespace kiln::data {
namespace {

// n examples: input [2] = {i, -i}, target scalar i.
DatasetPtr range_dataset(int64_t n, int64_t start = 0) {
  std::vector<float> x;
  std::vector<int64_t> y;
  for (int64_t i = start; i < start + n; ++i) {
    x.push_back(static_cast<float>(i));
    x.push_back(static_cast<float>(-i));
    y.push_back(i);
  }
  return std::make_shared<TensorDataset>(from_vector(x, {n, 2}), from_vector(y, {n}));
}

int64_t label(const Example& e) { return e.target.item<int64_t>(); }

TEST(TensorDataset, GetReturnsRows) {
  auto ds = range_dataset(5);
  ASSERT_EQ(ds->size(), 5);
  Example e = ds->get(3);
  EXPECT_EQ(e.input.to_vector<float>(), (std::vector<float>{3, -3}));
  EXPECT_EQ(label(e), 3);
  EXPECT_THROW(ds->get(5), IndexError);
  EXPECT_THROW(ds->get(-1), IndexError);
  EXPECT_THROW(TensorDataset(zeros({3, 2}), zeros({4})), ShapeError);
}

TEST(MapDataset, AppliesTransform) {
  auto ds = map(range_dataset(4), [](Example e) {
    e.input = e.input * 10.0;
    return e;
  });
  EXPECT_EQ(ds->size(), 4);
  EXPECT_EQ(ds->get(2).input.to_vector<float>(), (std::vector<float>{20, -20}));
  auto only_input = map_input(range_dataset(4), [](const Tensor& x) { return x + 1.0; });
  EXPECT_EQ(only_input->get(1).input.to_vector<float>(), (std::vector<float>{2, 0}));
  EXPECT_EQ(label(only_input->get(1)), 1);
}

TEST(Subset, PicksIndicesInOrder) {
  Subset s(range_dataset(10), {7, 2, 2, 9});
  ASSERT_EQ(s.size(), 4);
  EXPECT_EQ(label(s.get(0)), 7);
  EXPECT_EQ(label(s.get(2)), 2);
  EXPECT_EQ(label(s.get(3)), 9);
  EXPECT_THROW(s.get(4), IndexError);
  EXPECT_THROW(Subset(range_dataset(3), {3}), IndexError);
}

TEST(ConcatDataset, ChainsParts) {
  ConcatDataset c({range_dataset(3, 0), range_dataset(0, 50), range_dataset(2, 100)});
  ASSERT_EQ(c.size(), 5);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < c.size(); ++i) labels.push_back(label(c.get(i)));
  EXPECT_EQ(labels, (std::vector<int64_t>{0, 1, 2, 100, 101}));
  EXPECT_THROW(c.get(5), IndexError);
}

TEST(RandomSplit, DisjointCompleteAndSeeded) {
  auto ds = range_dataset(10);
  auto parts = random_split(ds, std::vector<int64_t>{6, 3, 1}, 42);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0]->size(), 6);
  EXPECT_EQ(parts[1]->size(), 3);
  EXPECT_EQ(parts[2]->size(), 1);
  std::set<int64_t> seen;
  for (auto& p : parts)
    for (int64_t i = 0; i < p->size(); ++i) seen.insert(label(p->get(i)));
  EXPECT_EQ(seen.size(), 10u);
  // Same seed, same split; another seed, (almost surely) another split.
  auto again = random_split(ds, std::vector<int64_t>{6, 3, 1}, 42);
  EXPECT_EQ(parts[0]->indices(), again[0]->indices());
  auto other = random_split(ds, std::vector<int64_t>{6, 3, 1}, 43);
  EXPECT_NE(parts[0]->indices(), other[0]->indices());
  // Not the identity order.
  std::vector<int64_t> identity(6);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_NE(parts[0]->indices(), identity);
  EXPECT_THROW(random_split(ds, std::vector<int64_t>{5, 4}, 0), ValueError);
}

TEST(RandomSplit, Fractions) {
  auto parts = random_split(range_dataset(11), std::vector<double>{0.8, 0.2}, 7);
  EXPECT_EQ(parts[0]->size() + parts[1]->size(), 11);
  EXPECT_EQ(parts[0]->size(), 9);  // floor(8.8)=8, floor(2.2)=2, the remainder goes to the first
  EXPECT_THROW(random_split(range_dataset(4), std::vector<double>{0.5, 0.2}, 0), ValueError);
}

TEST(RandomPermutation, IsAPermutation) {
  auto p = random_permutation(100, 3);
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 100; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_EQ(p, random_permutation(100, 3));
  EXPECT_NE(p, random_permutation(100, 4));
}

}  // namespace
}  // namespace kiln::data
