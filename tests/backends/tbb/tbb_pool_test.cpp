// tbb's max pool against the reference backend: the vectorized 2x2 stride-2 path (Note [2x2 max
// pool fast path] in backends/tbb/pool.cpp) and the general one, forward and backward, on odd
// sizes, ceil mode, padding, strided inputs, ties, NaN and infinities. Registered three times by
// CMake, with KILN_TBB_ISA unset (AVX-512 here), =avx2 and =generic, so each row kernel runs.
#include <cstdlib>
#include <limits>

#include "tbb_vs_ref.hpp"

namespace kiln_tbb_test {
namespace {

struct PoolCase {
  int64_t N, C, H, W;
  int64_t k = 2, s = 2, p = 0, d = 1;
  bool ceil = false;
};

std::string describe(const PoolCase& c) {
  return "[" + std::to_string(c.N) + "," + std::to_string(c.C) + "," + std::to_string(c.H) + "," +
         std::to_string(c.W) + "] k" + std::to_string(c.k) + " s" + std::to_string(c.s) + " p" + std::to_string(c.p) +
         " d" + std::to_string(c.d) + (c.ceil ? " ceil" : "");
}

// PyTorch's output size rule (the host computes it and passes the output shape).
int64_t out_size(int64_t in, const PoolCase& c) {
  const int64_t span = in + 2 * c.p - c.d * (c.k - 1) - 1;
  int64_t out = (c.ceil ? (span + c.s - 1) / c.s : span / c.s) + 1;
  if (c.ceil && (out - 1) * c.s >= in + c.p) --out;
  return out;
}

kiln_pool2d_attrs attrs_of(const PoolCase& c) {
  return kiln_pool2d_attrs{KILN_ATTRS_HEAD(kiln_pool2d_attrs), {c.k, c.k}, {c.s, c.s}, {c.p, c.p}, {c.d, c.d}, c.ceil ? 1 : 0, 1};
}

// Values with many ties (few distinct levels), some infinities and, with `nans`, some NaNs.
template <class T>
void fill_values(HostTensor<T>& x, std::mt19937& rng, bool nans) {
  std::uniform_int_distribution<int> level(-3, 3), special(0, 99);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int s = special(rng);
    T v = static_cast<T>(level(rng)) * T(0.5);
    if (s == 0) v = std::numeric_limits<T>::infinity();
    if (s == 1) v = -std::numeric_limits<T>::infinity();
    if (nans && (s == 2 || s == 3)) v = std::numeric_limits<T>::quiet_NaN();
    x.at(i) = v;
  }
}

template <class T>
void check_pool(const PoolCase& c, int64_t pad_last, bool nans, uint32_t seed) {
  const std::string what = describe(c) + (pad_last ? " strided" : "") + (nans ? " nan" : "") +
                           (sizeof(T) == 4 ? " float32" : " float64");
  SCOPED_TRACE(what);
  std::mt19937 rng(seed);
  const int64_t OH = out_size(c.H, c), OW = out_size(c.W, c);
  ASSERT_GT(OH, 0);
  ASSERT_GT(OW, 0);
  HostTensor<T> x({c.N, c.C, c.H, c.W}, pad_last, pad_last ? 3 : 0);
  fill_values(x, rng, nans);
  const kiln_pool2d_attrs a = attrs_of(c);

  HostTensor<T> y_tbb({c.N, c.C, OH, OW}, 0, 8, 40), y_ref({c.N, c.C, OH, OW});  // guards around tbb's
  HostTensor<int64_t> i_tbb({c.N, c.C, OH, OW}, 0, 8, 40), i_ref({c.N, c.C, OH, OW});
  ASSERT_EQ(tbb().launch(KILN_OP_MAXPOOL2D, {x.desc}, {y_tbb.desc, i_tbb.desc}, &a), KILN_STATUS_OK) << tbb().last_error();
  ASSERT_EQ(ref().launch(KILN_OP_MAXPOOL2D, {x.desc}, {y_ref.desc, i_ref.desc}, &a), KILN_STATUS_OK) << ref().last_error();
  expect_same(y_tbb.values(), y_ref.values(), "values");
  expect_same(i_tbb.values(), i_ref.values(), "indices");
  EXPECT_TRUE(y_tbb.guards_intact() && i_tbb.guards_intact()) << "tbb wrote outside the outputs";

  // backward from the forward's indices, with a gradient holding NaN, -0 and a strided layout
  HostTensor<T> dy({c.N, c.C, OH, OW}, pad_last, pad_last ? 1 : 0);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (int64_t i = 0; i < dy.numel(); ++i) dy.at(i) = static_cast<T>(normal(rng));
  if (dy.numel() > 2) {
    dy.at(1) = T(-0.0);
    if (nans) dy.at(dy.numel() - 1) = std::numeric_limits<T>::quiet_NaN();
  }
  HostTensor<T> dx_tbb({c.N, c.C, c.H, c.W}, 0, 8, 40), dx_ref({c.N, c.C, c.H, c.W});
  // outputs start as garbage: the kernel must write every cell
  for (int64_t i = 0; i < dx_tbb.numel(); ++i) dx_tbb.at(i) = T(12345);
  ASSERT_EQ(tbb().launch(KILN_OP_MAXPOOL2D_BACKWARD, {dy.desc, i_ref.desc}, {dx_tbb.desc}, &a), KILN_STATUS_OK)
      << tbb().last_error();
  ASSERT_EQ(ref().launch(KILN_OP_MAXPOOL2D_BACKWARD, {dy.desc, i_ref.desc}, {dx_ref.desc}, &a), KILN_STATUS_OK)
      << ref().last_error();
  if (c.s >= c.d * (c.k - 1) + 1) {
    expect_same(dx_tbb.values(), dx_ref.values(), "gradient");  // one window a cell: no sum
  } else {
    // overlapping windows sum into a cell: tbb in the element type, ref in double
    expect_close(dx_tbb.values(), dx_ref.values(), sizeof(T) == 4 ? 1e-6 : 1e-14, 1e-6, "gradient");
  }
  EXPECT_TRUE(dx_tbb.guards_intact()) << "tbb wrote outside the gradient";
}

std::vector<PoolCase> cases() {
  std::vector<PoolCase> v = {
      {2, 3, 28, 28},              // LeNet's first pool: rows of 14 windows (a masked AVX-512 tail)
      {4, 16, 10, 10},             // LeNet's second: rows of 5
      {1, 2, 2, 2},                // one window
      {2, 2, 7, 9},                // odd height and width: last row and column belong to no window
      {2, 2, 7, 9, 2, 2, 0, 1, true},  // ceil mode: partial windows on the odd edges
      {1, 3, 9, 70, 2, 2, 0, 1, true},
      {3, 2, 33, 67},              // 33 windows a row: two full AVX-512 steps and a tail of 1
      {1, 1, 4, 64},               // exactly 32 windows a row
      {2, 2, 6, 16},               // exactly 8
      {1, 1, 3, 3, 2, 2, 1, 1},    // padded: the general path
      {2, 2, 9, 9, 2, 2, 1, 1, true},
      {2, 3, 8, 8, 2, 1},          // stride 1: overlapping windows, general path
      {2, 3, 11, 12, 3, 2, 1},     // 3x3 stride 2 (ResNet's)
      {1, 2, 9, 9, 2, 2, 0, 2},    // dilation 2: general path
      {1, 1, 1, 5, 2, 2, 0, 1, true},  // height 1, ceil mode: only partial windows
  };
  return v;
}

TEST(TbbMaxPool, MatchesReference) {
  ASSERT_NE(tbb().api, nullptr);
  ASSERT_NE(ref().api, nullptr);
  uint32_t seed = 1;
  for (const PoolCase& c : cases())
    for (int64_t pad_last : {0, 5})
      for (bool nans : {false, true}) {
        check_pool<float>(c, pad_last, nans, seed++);
        check_pool<double>(c, pad_last, nans, seed++);
      }
}

// A window that is all NaN or ties: first NaN, first maximum (row-major) win, like the reference.
TEST(TbbMaxPool, FirstNaNAndFirstMaximumWin) {
  PoolCase c{1, 1, 2, 34};  // 17 windows: one full AVX-512 step and a tail
  HostTensor<float> x({1, 1, 2, 34});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t i = 0; i < 68; ++i) x.at(i) = 1.0f;  // all tied: index of the top-left cell
  x.at(2 * 1 + 1) = 2.0f;                          // window 1: top-right wins
  x.at(34 + 2 * 2) = nan;                          // window 2: bottom-left NaN
  x.at(34 + 2 * 2 + 1) = nan;                      //   and a later NaN: the first stays
  x.at(2 * 3) = nan;                               // window 3: NaN first, a larger value later
  x.at(34 + 2 * 3 + 1) = 5.0f;
  x.at(2 * 16 + 1) = 3.0f;  // window 16 (the tail): a tie of two maxima
  x.at(34 + 2 * 16 + 1) = 3.0f;
  const kiln_pool2d_attrs a = attrs_of(c);
  HostTensor<float> y({1, 1, 1, 17});
  HostTensor<int64_t> idx({1, 1, 1, 17});
  ASSERT_EQ(tbb().launch(KILN_OP_MAXPOOL2D, {x.desc}, {y.desc, idx.desc}, &a), KILN_STATUS_OK) << tbb().last_error();
  const std::vector<int64_t> got = idx.values();
  EXPECT_EQ(got[0], 0);
  EXPECT_EQ(got[1], 3);
  EXPECT_EQ(got[2], 34 + 4);
  EXPECT_EQ(got[3], 6);
  EXPECT_EQ(got[16], 33);
  EXPECT_TRUE(std::isnan(y.values()[2]));
  EXPECT_TRUE(std::isnan(y.values()[3]));
  EXPECT_EQ(y.values()[1], 2.0f);
  EXPECT_EQ(y.values()[16], 3.0f);
}

// Indices the forward would not make: another cell of the plane (even another window's) is a
// plain scatter-add, the same on both backends; an index outside the plane is an error that
// names its position.
TEST(TbbMaxPool, BackwardWithForeignIndices) {
  const PoolCase c{2, 3, 6, 36};
  const int64_t OH = 3, OW = 18;
  const kiln_pool2d_attrs a = attrs_of(c);
  HostTensor<float> dy({2, 3, OH, OW});
  HostTensor<int64_t> idx({2, 3, OH, OW});
  for (int64_t i = 0; i < dy.numel(); ++i) {
    dy.at(i) = static_cast<float>(i % 7) - 3.0f;
    const int64_t o = i % (OH * OW), oh = o / OW, ow = o % OW;
    idx.at(i) = 2 * oh * 36 + 2 * ow + 36 + 1;  // each window's bottom-right cell
  }
  idx.at(5) = 0;                // plane 0: a cell of window 0, not of window 5
  idx.at(OH * OW * 4 + 40) = idx.at(OH * OW * 4 + 41);  // plane 4: two windows onto one cell
  HostTensor<float> dx_tbb({2, 3, 6, 36}), dx_ref({2, 3, 6, 36});
  ASSERT_EQ(tbb().launch(KILN_OP_MAXPOOL2D_BACKWARD, {dy.desc, idx.desc}, {dx_tbb.desc}, &a), KILN_STATUS_OK)
      << tbb().last_error();
  ASSERT_EQ(ref().launch(KILN_OP_MAXPOOL2D_BACKWARD, {dy.desc, idx.desc}, {dx_ref.desc}, &a), KILN_STATUS_OK);
  expect_same(dx_tbb.values(), dx_ref.values(), "gradient");

  idx.at(OH * OW * 2 + 7) = 6 * 36;  // one past the plane
  EXPECT_EQ(tbb().launch(KILN_OP_MAXPOOL2D_BACKWARD, {dy.desc, idx.desc}, {dx_tbb.desc}, &a),
            KILN_STATUS_INVALID_ARGUMENT);
  const std::string msg = tbb().last_error();
  EXPECT_NE(msg.find("maxpool2d_backward"), std::string::npos) << msg;
  EXPECT_NE(msg.find("position " + std::to_string(OH * OW * 2 + 7)), std::string::npos) << msg;
  idx.at(OH * OW * 2 + 7) = -1;
  EXPECT_EQ(tbb().launch(KILN_OP_MAXPOOL2D_BACKWARD, {dy.desc, idx.desc}, {dx_tbb.desc}, &a),
            KILN_STATUS_INVALID_ARGUMENT);
}

// The variant runs really use the ISA they name (the device name reports the kernels' ISA).
TEST(TbbMaxPool, RunsTheRequestedIsa) {
  const char* forced = std::getenv("KILN_TBB_ISA");
  if (forced == nullptr) GTEST_SKIP() << "KILN_TBB_ISA not set; device: " << tbb().device_name;
  EXPECT_NE(tbb().device_name.find(forced), std::string::npos) << tbb().device_name;
}

}  // namespace
}  // namespace kiln_tbb_test
