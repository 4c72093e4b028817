#include <kiln/data/sampler.hpp>

#include <kiln/error.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

namespace kiln::data {
namespace {

std::vector<int64_t> sorted(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(SequentialSampler, InOrder) {
  SequentialSampler s(4);
  EXPECT_EQ(s.indices(), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(s.size(), 4);
}

TEST(RandomSampler, PermutationReshuffledPerEpoch) {
  RandomSampler s(50, {.seed = 9});
  auto e0 = s.indices();
  EXPECT_EQ(sorted(e0), SequentialSampler(50).indices());
  EXPECT_EQ(e0, s.indices());  // same epoch, same order
  s.set_epoch(1);
  auto e1 = s.indices();
  EXPECT_EQ(sorted(e1), SequentialSampler(50).indices());
  EXPECT_NE(e0, e1);
  s.set_epoch(0);
  EXPECT_EQ(e0, s.indices());
  RandomSampler same_seed(50, {.seed = 9});
  EXPECT_EQ(e0, same_seed.indices());
}

TEST(RandomSampler, WithReplacement) {
  RandomSampler s(3, {.seed = 1, .replacement = true, .num_samples = 300});
  auto idx = s.indices();
  ASSERT_EQ(idx.size(), 300u);
  std::map<int64_t, int> counts;
  for (auto i : idx) counts[i]++;
  EXPECT_EQ(counts.size(), 3u);
  for (auto [i, c] : counts) {
    EXPECT_GE(i, 0);
    EXPECT_LT(i, 3);
    EXPECT_GT(c, 60);
  }
  EXPECT_THROW(RandomSampler(3, {.num_samples = 4}), ValueError);
}

TEST(WeightedRandomSampler, FollowsWeights) {
  WeightedRandomSampler s({0.0, 1.0, 3.0}, 4000, true, 5);
  std::map<int64_t, int> counts;
  for (auto i : s.indices()) counts[i]++;
  EXPECT_EQ(counts[0], 0);
  EXPECT_NEAR(counts[2] / 4000.0, 0.75, 0.05);
  EXPECT_NEAR(counts[1] / 4000.0, 0.25, 0.05);
}

TEST(WeightedRandomSampler, WithoutReplacementIsDistinct) {
  WeightedRandomSampler s({1, 1, 0, 5, 2}, 4, false, 3);
  auto idx = s.indices();
  EXPECT_EQ(sorted(idx), (std::vector<int64_t>{0, 1, 3, 4}));
  EXPECT_THROW(WeightedRandomSampler({1, 0}, 2, false), ValueError);
  EXPECT_THROW(WeightedRandomSampler({1, -1}, 1), ValueError);
}

TEST(DistributedSampler, DisjointEqualShares) {
  // 10 examples over 3 replicas: padded to 12, 4 each; all 10 covered.
  std::set<int64_t> seen;
  std::vector<int64_t> all;
  for (int64_t rank = 0; rank < 3; ++rank) {
    DistributedSampler s(10, 3, rank, {.shuffle = true, .seed = 7});
    auto idx = s.indices();
    EXPECT_EQ(static_cast<int64_t>(idx.size()), s.size());
    EXPECT_EQ(s.size(), 4);
    for (auto i : idx) {
      seen.insert(i);
      all.push_back(i);
    }
  }
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(all.size(), 12u);
  // Without shuffle, rank 1 of 2 takes the odd indices.
  DistributedSampler odd(6, 2, 1, {.shuffle = false});
  EXPECT_EQ(odd.indices(), (std::vector<int64_t>{1, 3, 5}));
  // drop_last trims instead of padding.
  DistributedSampler trimmed(10, 3, 0, {.shuffle = false, .drop_last = true});
  EXPECT_EQ(trimmed.indices(), (std::vector<int64_t>{0, 3, 6}));
  EXPECT_THROW(DistributedSampler(10, 2, 2), ValueError);
}

TEST(DistributedSampler, ReshufflesPerEpochConsistently) {
  DistributedSampler a(20, 2, 0, {.seed = 1}), b(20, 2, 1, {.seed = 1});
  a.set_epoch(3);
  b.set_epoch(3);
  auto ia = a.indices(), ib = b.indices();
  std::set<int64_t> both(ia.begin(), ia.end());
  both.insert(ib.begin(), ib.end());
  EXPECT_EQ(both.size(), 20u);
  a.set_epoch(4);
  EXPECT_NE(a.indices(), ia);
}

}  // namespace
}  // namespace kiln::data
