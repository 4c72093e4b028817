// tbb's GEMM paths against the reference backend, through matmul and the convolutions: partial
// tiles of every row count and column count (the AVX-512 kernels handle them with per-row-count
// kernels and masks), unpacked B (Note [Unpacked B] in backends/tbb/gemm.cpp), weights packed
// once per convolution (PackedA), several depth and column blocks, transposed operands, and
// batches large enough that images run in parallel. Run under each ISA (see CMakeLists.txt).
#include "tbb_vs_ref.hpp"

namespace kiln_tbb_test {
namespace {

template <class T>
void fill_random(HostTensor<T>& t, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (int64_t i = 0; i < t.numel(); ++i) t.at(i) = static_cast<T>(u(rng));
}

// Sums of `terms` products of values in [-1, 1]: the float error grows with the depth.
template <class T>
void expect_sums_close(HostTensor<T>& got, HostTensor<T>& want, int64_t terms, const std::string& what) {
  const double eps = sizeof(T) == 4 ? 2e-6 : 1e-14;
  expect_close(got.values(), want.values(), 4 * eps, eps * static_cast<double>(terms), what);
}

// a [B, M, K] (or its transposed storage) @ b [B, K, N] (or transposed), on both backends.
template <class T>
void check_matmul(int64_t batch, int64_t M, int64_t K, int64_t N, bool a_t, bool b_t, uint32_t seed) {
  const std::string what = "matmul [" + std::to_string(batch) + "," + std::to_string(M) + "," + std::to_string(K) +
                           "] @ [" + std::to_string(K) + "," + std::to_string(N) + "]" + (a_t ? " a^T" : "") +
                           (b_t ? " b^T" : "") + (sizeof(T) == 4 ? " float32" : " float64");
  SCOPED_TRACE(what);
  std::mt19937 rng(seed);
  // transposed storage: a [B, K, M] buffer viewed as [B, M, K]
  HostTensor<T> a(a_t ? std::vector<int64_t>{batch, K, M} : std::vector<int64_t>{batch, M, K});
  HostTensor<T> b(b_t ? std::vector<int64_t>{batch, N, K} : std::vector<int64_t>{batch, K, N});
  fill_random(a, rng);
  fill_random(b, rng);
  auto view_t = [](kiln_tensor_desc d) {
    std::swap(d.shape[1], d.shape[2]);
    std::swap(d.strides[1], d.strides[2]);
    return d;
  };
  const kiln_tensor_desc da = a_t ? view_t(a.desc) : a.desc, db = b_t ? view_t(b.desc) : b.desc;
  HostTensor<T> c_tbb({batch, M, N}, 0, 16, 64), c_ref({batch, M, N});  // guards around tbb's output
  ASSERT_EQ(tbb().launch(KILN_OP_MATMUL, {da, db}, {c_tbb.desc}, nullptr), KILN_STATUS_OK) << tbb().last_error();
  ASSERT_EQ(ref().launch(KILN_OP_MATMUL, {da, db}, {c_ref.desc}, nullptr), KILN_STATUS_OK) << ref().last_error();
  expect_sums_close(c_tbb, c_ref, K, what);
  EXPECT_TRUE(c_tbb.guards_intact()) << "tbb wrote outside the output";
}

TEST(TbbGemm, EveryPartialTileMatchesReference) {
  uint32_t seed = 1;
  // M 1..25 covers every row count of a partial tile (MR is 12, 6 or 4) and one or two panels of
  // A (unpacked B); N crosses the column-panel widths (32, 16, 8) on both sides.
  for (int64_t M = 1; M <= 25; ++M)
    for (int64_t N : {1, 7, 16, 17, 31, 32, 33, 70}) {
      check_matmul<float>(1, M, 9, N, false, false, seed++);
      if (M % 4 == 1) check_matmul<double>(1, M, 9, N, false, false, seed++);
    }
}

TEST(TbbGemm, BlocksTransposesAndBatches) {
  uint32_t seed = 100;
  for (bool a_t : {false, true})
    for (bool b_t : {false, true}) {
      check_matmul<float>(1, 13, 800, 40, a_t, b_t, seed++);   // K over two depth blocks, unpacked B
      check_matmul<float>(1, 50, 70, 1000, a_t, b_t, seed++);  // N over two column blocks, packed B
      check_matmul<float>(2, 24, 30, 500, a_t, b_t, seed++);   // unpacked B over two column blocks
      check_matmul<double>(3, 29, 300, 37, a_t, b_t, seed++);
    }
  check_matmul<float>(64, 6, 25, 100, false, false, seed++);  // many small products in parallel
  check_matmul<float>(1, 200, 300, 260, false, false, seed++);  // large enough for the parallel GEMM
}

struct ConvCase {
  int64_t N, C, H, W, O, K;
  int64_t stride = 1, pad = 0, groups = 1;
};

int64_t conv_out(int64_t in, const ConvCase& c) { return (in + 2 * c.pad - c.K) / c.stride + 1; }

template <class T>
void check_conv(const ConvCase& c, bool strided_x, uint32_t seed) {
  const std::string what = "conv x[" + std::to_string(c.N) + "," + std::to_string(c.C) + "," + std::to_string(c.H) +
                           "," + std::to_string(c.W) + "] w[" + std::to_string(c.O) + "," +
                           std::to_string(c.C / c.groups) + "," + std::to_string(c.K) + "] s" +
                           std::to_string(c.stride) + " p" + std::to_string(c.pad) + " g" + std::to_string(c.groups) +
                           (strided_x ? " strided" : "") + (sizeof(T) == 4 ? " float32" : " float64");
  SCOPED_TRACE(what);
  std::mt19937 rng(seed);
  const int64_t OH = conv_out(c.H, c), OW = conv_out(c.W, c), Cg = c.C / c.groups;
  HostTensor<T> x({c.N, c.C, c.H, c.W}, strided_x ? 3 : 0, strided_x ? 2 : 0);
  HostTensor<T> w({c.O, Cg, c.K, c.K}), dy({c.N, c.O, OH, OW});
  fill_random(x, rng);
  fill_random(w, rng);
  fill_random(dy, rng);
  const kiln_conv2d_attrs a{KILN_ATTRS_HEAD(kiln_conv2d_attrs), {c.stride, c.stride}, {c.pad, c.pad}, {1, 1}, c.groups};

  HostTensor<T> y_tbb({c.N, c.O, OH, OW}, 0, 16, 64), y_ref({c.N, c.O, OH, OW});
  ASSERT_EQ(tbb().launch(KILN_OP_CONV2D, {x.desc, w.desc}, {y_tbb.desc}, &a), KILN_STATUS_OK) << tbb().last_error();
  ASSERT_EQ(ref().launch(KILN_OP_CONV2D, {x.desc, w.desc}, {y_ref.desc}, &a), KILN_STATUS_OK) << ref().last_error();
  expect_sums_close(y_tbb, y_ref, Cg * c.K * c.K, "forward");
  EXPECT_TRUE(y_tbb.guards_intact()) << "tbb wrote outside the output";

  HostTensor<T> dx_tbb({c.N, c.C, c.H, c.W}, 0, 16, 64), dx_ref({c.N, c.C, c.H, c.W});
  ASSERT_EQ(tbb().launch(KILN_OP_CONV2D_BACKWARD_INPUT, {dy.desc, w.desc}, {dx_tbb.desc}, &a), KILN_STATUS_OK)
      << tbb().last_error();
  ASSERT_EQ(ref().launch(KILN_OP_CONV2D_BACKWARD_INPUT, {dy.desc, w.desc}, {dx_ref.desc}, &a), KILN_STATUS_OK);
  expect_sums_close(dx_tbb, dx_ref, (c.O / c.groups) * c.K * c.K, "backward input");
  EXPECT_TRUE(dx_tbb.guards_intact()) << "tbb wrote outside the output";

  HostTensor<T> dw_tbb({c.O, Cg, c.K, c.K}, 0, 16, 64), dw_ref({c.O, Cg, c.K, c.K});
  ASSERT_EQ(tbb().launch(KILN_OP_CONV2D_BACKWARD_WEIGHT, {dy.desc, x.desc}, {dw_tbb.desc}, &a), KILN_STATUS_OK)
      << tbb().last_error();
  ASSERT_EQ(ref().launch(KILN_OP_CONV2D_BACKWARD_WEIGHT, {dy.desc, x.desc}, {dw_ref.desc}, &a), KILN_STATUS_OK);
  expect_sums_close(dw_tbb, dw_ref, c.N * OH * OW, "backward weight");
  EXPECT_TRUE(dw_tbb.guards_intact()) << "tbb wrote outside the output";
}

TEST(TbbConv, MatchesReference) {
  const ConvCase cases[] = {
      {16, 1, 28, 28, 6, 5, 1, 2},   // LeNet conv1: 6 rows of output channels, P = 784 (two column blocks)
      {16, 6, 14, 14, 16, 5},        // LeNet conv2: 12 + 4 rows, P = 100
      {3, 20, 9, 9, 7, 5, 1, 2},     // Kd = 500: two depth blocks of packed weights
      {4, 4, 11, 13, 30, 3, 2, 1, 2},  // groups, stride 2, odd sizes
      {5, 8, 6, 6, 8, 1},            // 1x1: no im2col
      {1, 3, 40, 40, 5, 3, 1, 1},    // one image: the GEMM itself runs in parallel
  };
  uint32_t seed = 7;
  for (const ConvCase& c : cases)
    for (bool strided : {false, true}) {
      check_conv<float>(c, strided, seed++);
      check_conv<double>(c, strided, seed++);
    }
}

}  // namespace
}  // namespace kiln_tbb_test
