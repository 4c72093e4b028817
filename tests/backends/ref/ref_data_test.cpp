// The reference backend's indexing, data movement and random fills (bit for bit with philox.h).
#include "ref_kernels.hpp"

namespace kiln_ref_test {
namespace {

// ---- indexing ----
TEST(RefIndex, GatherScatterAddIndexSelect) {
  Tensor<float> x({2, 3}, {1, 2, 3, 4, 5, 6});
  const kiln_axis_attrs axis1{KILN_ATTRS_HEAD(kiln_axis_attrs), 1}, axis0{KILN_ATTRS_HEAD(kiln_axis_attrs), 0};
  Tensor<int64_t> index({2, 2}, {2, 0, 1, 1});
  Tensor<float> g = Tensor<float>::zeros({2, 2});
  EXPECT_LAUNCH_OK(KILN_OP_GATHER, {x.desc, index.desc}, {g.desc}, &axis1);
  expect_near_all(g.data, {3, 1, 5, 5}, 0);

  Tensor<float> src({2, 2}, {10, 20, 30, 40}), out = Tensor<float>::zeros({2, 3});
  EXPECT_LAUNCH_OK(KILN_OP_SCATTER_ADD, {x.desc, index.desc, src.desc}, {out.desc}, &axis1);
  expect_near_all(out.data, {1 + 20, 2, 3 + 10, 4, 5 + 30 + 40, 6}, 0);

  Tensor<int64_t> rows({3}, {1, 1, 0});
  Tensor<float> sel = Tensor<float>::zeros({3, 3});
  EXPECT_LAUNCH_OK(KILN_OP_INDEX_SELECT, {x.desc, rows.desc}, {sel.desc}, &axis0);
  expect_near_all(sel.data, {4, 5, 6, 4, 5, 6, 1, 2, 3}, 0);

  Tensor<uint8_t> flags({3}, {1, 0, 1}, KILN_DTYPE_BOOL), fsel = Tensor<uint8_t>::zeros({3}, KILN_DTYPE_BOOL);
  EXPECT_LAUNCH_OK(KILN_OP_INDEX_SELECT, {flags.desc, rows.desc}, {fsel.desc}, &axis0);
  EXPECT_EQ(fsel.data, (std::vector<uint8_t>{0, 0, 1}));

  index.data[2] = 3;  // position [1, 0], axis 1 has extent 3
  EXPECT_EQ(launch(KILN_OP_GATHER, {x.desc, index.desc}, {g.desc}, &axis1), KILN_STATUS_INDEX_OUT_OF_RANGE);
  const std::string message = last_error();
  for (const char* part : {"gather", "index 3", "[1, 0]", "[0, 3)"})
    EXPECT_NE(message.find(part), std::string::npos) << part << " not in: " << message;
  index.data[2] = -1;
  EXPECT_EQ(launch(KILN_OP_SCATTER_ADD, {x.desc, index.desc, src.desc}, {out.desc}, &axis1),
            KILN_STATUS_INDEX_OUT_OF_RANGE);
  EXPECT_NE(last_error().find("scatter_add: index -1"), std::string::npos) << last_error();
}

TEST(RefIndex, EmbeddingAndBackwardWithPaddingIdx) {
  Tensor<double> weight({3, 2}, {0.5, 1, 2, 3, 4, 5});
  Tensor<int64_t> index({2, 2}, {2, 0, 0, 1});
  Tensor<double> out = Tensor<double>::zeros({2, 2, 2});
  const kiln_embedding_attrs no_pad{KILN_ATTRS_HEAD(kiln_embedding_attrs), -1}, pad0{KILN_ATTRS_HEAD(kiln_embedding_attrs), 0};
  EXPECT_LAUNCH_OK(KILN_OP_EMBEDDING, {weight.desc, index.desc}, {out.desc}, &no_pad);
  expect_near_all(out.data, {4, 5, 0.5, 1, 0.5, 1, 2, 3}, 0);

  Tensor<double> dy({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}), dw = Tensor<double>::zeros({3, 2});
  EXPECT_LAUNCH_OK(KILN_OP_EMBEDDING_BACKWARD, {dy.desc, index.desc}, {dw.desc}, &no_pad);
  expect_near_all(dw.data, {3 + 5, 4 + 6, 7, 8, 1, 2}, 0);
  dw.data.assign(6, 99.0);  // must be zeroed by the op
  EXPECT_LAUNCH_OK(KILN_OP_EMBEDDING_BACKWARD, {dy.desc, index.desc}, {dw.desc}, &pad0);
  expect_near_all(dw.data, {0, 0, 7, 8, 1, 2}, 0);

  index.data[3] = 3;
  EXPECT_EQ(launch(KILN_OP_EMBEDDING, {weight.desc, index.desc}, {out.desc}, &no_pad),
            KILN_STATUS_INDEX_OUT_OF_RANGE);
  const std::string message = last_error();
  for (const char* part : {"embedding", "index 3", "[1, 1]", "[0, 3)"})
    EXPECT_NE(message.find(part), std::string::npos) << part << " not in: " << message;
  EXPECT_EQ(launch(KILN_OP_EMBEDDING_BACKWARD, {dy.desc, index.desc}, {dw.desc}, &no_pad),
            KILN_STATUS_INDEX_OUT_OF_RANGE);
  EXPECT_NE(last_error().find("index 3"), std::string::npos) << last_error();
}

TEST(RefIndex, IndexSelectOutOfRangeNamesValuePositionAndRange) {
  Tensor<float> x({2, 3}, {1, 2, 3, 4, 5, 6});
  const kiln_axis_attrs axis0{KILN_ATTRS_HEAD(kiln_axis_attrs), 0};
  Tensor<int64_t> rows({3}, {1, -2, 0});
  Tensor<float> sel = Tensor<float>::zeros({3, 3});
  EXPECT_EQ(launch(KILN_OP_INDEX_SELECT, {x.desc, rows.desc}, {sel.desc}, &axis0), KILN_STATUS_INDEX_OUT_OF_RANGE);
  const std::string message = last_error();
  for (const char* part : {"index_select", "index -2", "[1]", "[0, 2)"})
    EXPECT_NE(message.find(part), std::string::npos) << part << " not in: " << message;
}

// ---- data movement ----
TEST(RefData, CastClampsTruncatesAndWraps) {
  Tensor<float> f({7}, {1e10f, -1e10f, kNaNF, -2.7f, 2.7f, kInfF, 0.0f});
  Tensor<int32_t> i = Tensor<int32_t>::zeros({7});
  EXPECT_LAUNCH_OK(KILN_OP_CAST, {f.desc}, {i.desc});
  const int32_t max = std::numeric_limits<int32_t>::max(), min = std::numeric_limits<int32_t>::min();
  EXPECT_EQ(i.data, (std::vector<int32_t>{max, min, 0, -2, 2, max, 0}));
  Tensor<uint8_t> u = Tensor<uint8_t>::zeros({7});
  EXPECT_LAUNCH_OK(KILN_OP_CAST, {f.desc}, {u.desc});
  EXPECT_EQ(u.data, (std::vector<uint8_t>{255, 0, 0, 0, 2, 255, 0}));
  Tensor<uint8_t> b = Tensor<uint8_t>::zeros({7}, KILN_DTYPE_BOOL);
  EXPECT_LAUNCH_OK(KILN_OP_CAST, {f.desc}, {b.desc});
  EXPECT_EQ(b.data, (std::vector<uint8_t>{1, 1, 1, 1, 1, 1, 0}));
  Tensor<int64_t> l = Tensor<int64_t>::zeros({7});
  EXPECT_LAUNCH_OK(KILN_OP_CAST, {f.desc}, {l.desc});
  EXPECT_EQ(l.data[0], 10000000000LL);
  EXPECT_EQ(l.data[5], std::numeric_limits<int64_t>::max());

  Tensor<double> d({3}, {1e300, -1e300, 0.1});
  Tensor<float> g = Tensor<float>::zeros({3});
  EXPECT_LAUNCH_OK(KILN_OP_CAST, {d.desc}, {g.desc});
  EXPECT_EQ(g.data[0], kInfF);
  EXPECT_EQ(g.data[1], -kInfF);
  EXPECT_EQ(g.data[2], 0.1f);

  Tensor<int64_t> big({2}, {(int64_t{1} << 32) + 5, -1});
  Tensor<int32_t> wrapped = Tensor<int32_t>::zeros({2});
  EXPECT_LAUNCH_OK(KILN_OP_CAST, {big.desc}, {wrapped.desc});
  EXPECT_EQ(wrapped.data, (std::vector<int32_t>{5, -1}));
  Tensor<uint8_t> flags({2}, {1, 0}, KILN_DTYPE_BOOL);
  Tensor<double> fd = Tensor<double>::zeros({2});
  EXPECT_LAUNCH_OK(KILN_OP_CAST, {flags.desc}, {fd.desc});
  expect_near_all(fd.data, {1, 0}, 0);
}

TEST(RefData, StridedFillAndCopy) {
  // Fill every other column of a 2x4 buffer, starting at column 1.
  Tensor<float> buffer({2, 4}, {0, 0, 0, 0, 0, 0, 0, 0});
  kiln_tensor_desc view = buffer.desc;
  view.offset = 1, view.shape[1] = 2, view.strides[1] = 2;
  const kiln_scalar_attrs value{KILN_ATTRS_HEAD(kiln_scalar_attrs), 2.5, 0};
  EXPECT_LAUNCH_OK(KILN_OP_FILL, {}, {view}, &value);
  expect_near_all(buffer.data, {0, 2.5, 0, 2.5, 0, 2.5, 0, 2.5}, 0);
  Tensor<uint8_t> u = Tensor<uint8_t>::zeros({2});
  const kiln_scalar_attrs negative{KILN_ATTRS_HEAD(kiln_scalar_attrs), -3, 0};
  EXPECT_LAUNCH_OK(KILN_OP_FILL, {}, {u.desc}, &negative);
  EXPECT_EQ(u.data, (std::vector<uint8_t>{0, 0}));  // clamped into uint8

  // Copy a 2x3 tensor into the transpose of a 3x2 buffer.
  Tensor<int64_t> src({2, 3}, {1, 2, 3, 4, 5, 6}), dst = Tensor<int64_t>::zeros({3, 2});
  kiln_tensor_desc t = dst.desc;
  t.shape[0] = 2, t.shape[1] = 3, t.strides[0] = 1, t.strides[1] = 2;
  EXPECT_LAUNCH_OK(KILN_OP_COPY, {src.desc}, {t});
  EXPECT_EQ(dst.data, (std::vector<int64_t>{1, 4, 2, 5, 3, 6}));
}

// ---- random ----
TEST(RefRandom, DeterministicAndOffsetShiftsElements) {
  kiln_random_attrs attrs{KILN_ATTRS_HEAD(kiln_random_attrs), 1234, 0, -1.0, 3.0};
  Tensor<float> a = Tensor<float>::zeros({64}), b = Tensor<float>::zeros({64});
  EXPECT_LAUNCH_OK(KILN_OP_UNIFORM, {}, {a.desc}, &attrs);
  EXPECT_LAUNCH_OK(KILN_OP_UNIFORM, {}, {b.desc}, &attrs);
  EXPECT_EQ(a.data, b.data);
  for (size_t i = 0; i < a.data.size(); ++i) {
    EXPECT_EQ(a.data[i], static_cast<float>(kiln_random_uniform(1234, i, 0, -1.0, 3.0)));
    EXPECT_GE(a.data[i], -1.0f);
    EXPECT_LT(a.data[i], 3.0f);
  }
  attrs.offset = 10;
  EXPECT_LAUNCH_OK(KILN_OP_UNIFORM, {}, {b.desc}, &attrs);
  for (size_t i = 0; i + 10 < a.data.size(); ++i) EXPECT_EQ(b.data[i], a.data[i + 10]);
  attrs.seed = 1235;
  EXPECT_LAUNCH_OK(KILN_OP_UNIFORM, {}, {b.desc}, &attrs);
  EXPECT_NE(b.data[0], a.data[10]);

  kiln_random_attrs dice{KILN_ATTRS_HEAD(kiln_random_attrs), 7, 0, 1.0, 7.0};
  Tensor<int32_t> d = Tensor<int32_t>::zeros({600});
  EXPECT_LAUNCH_OK(KILN_OP_UNIFORM, {}, {d.desc}, &dice);
  int seen[8] = {};
  for (int32_t v : d.data) {
    ASSERT_GE(v, 1);
    ASSERT_LE(v, 6);
    ++seen[v];
  }
  for (int face = 1; face <= 6; ++face) EXPECT_GT(seen[face], 50) << face;
  EXPECT_EQ(d.data[3], static_cast<int32_t>(std::floor(kiln_random_uniform(7, 3, 1, 1.0, 7.0))));
}

TEST(RefRandom, NormalMomentsAndBernoulliRate) {
  const int n = 10000;
  kiln_random_attrs normal{KILN_ATTRS_HEAD(kiln_random_attrs), 42, 0, 2.0, 0.5};
  Tensor<double> x = Tensor<double>::zeros({100, 100});
  EXPECT_LAUNCH_OK(KILN_OP_NORMAL, {}, {x.desc}, &normal);
  double sum = 0, sq = 0;
  for (double v : x.data) sum += v;
  const double mean = sum / n;
  for (double v : x.data) sq += (v - mean) * (v - mean);
  EXPECT_NEAR(mean, 2.0, 0.03);
  EXPECT_NEAR(std::sqrt(sq / (n - 1)), 0.5, 0.02);
  EXPECT_EQ(x.data[17], kiln_random_normal(42, 17, 2.0, 0.5));

  kiln_random_attrs coin{KILN_ATTRS_HEAD(kiln_random_attrs), 9, 100, 0.3, 0};
  Tensor<uint8_t> b = Tensor<uint8_t>::zeros({n}, KILN_DTYPE_BOOL);
  EXPECT_LAUNCH_OK(KILN_OP_BERNOULLI, {}, {b.desc}, &coin);
  int ones = 0;
  for (uint8_t v : b.data) {
    ASSERT_LE(v, 1);
    ones += v;
  }
  EXPECT_NEAR(ones / static_cast<double>(n), 0.3, 0.015);
  Tensor<float> bf = Tensor<float>::zeros({n});
  EXPECT_LAUNCH_OK(KILN_OP_BERNOULLI, {}, {bf.desc}, &coin);
  for (int i = 0; i < n; ++i) ASSERT_EQ(bf.data[i], static_cast<float>(b.data[i]));
}

}  // namespace
}  // namespace kiln_ref_test
