// The reference backend's pointwise ops and reductions against hand-computed values.
#include "ref_kernels.hpp"

namespace kiln_ref_test {
namespace {

// ---- pointwise ----
TEST(RefPointwise, FloatUnaryMatchesLibm) {
  const std::vector<float> in = {-2.5f, -0.5f, 0.0f, 0.75f, 3.0f};
  struct Case {
    kiln_op op;
    double (*f)(double);
  };
  const Case cases[] = {
      {KILN_OP_NEG, [](double x) { return -x; }},
      {KILN_OP_ABS, [](double x) { return std::fabs(x); }},
      {KILN_OP_SIGN, [](double x) { return x > 0   ? 1.0
                                           : x < 0 ? -1.0
                                                   : 0.0; }},
      {KILN_OP_EXP, [](double x) { return std::exp(x); }},
      {KILN_OP_SIN, [](double x) { return std::sin(x); }},
      {KILN_OP_COS, [](double x) { return std::cos(x); }},
      {KILN_OP_FLOOR, [](double x) { return std::floor(x); }},
      {KILN_OP_RELU, [](double x) { return x > 0 ? x : 0.0; }},
      {KILN_OP_SIGMOID, [](double x) { return 1 / (1 + std::exp(-x)); }},
      {KILN_OP_TANH, [](double x) { return std::tanh(x); }},
      {KILN_OP_ERF, [](double x) { return std::erf(x); }},
      {KILN_OP_GELU, [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }},
  };
  for (const Case& c : cases) {
    Tensor<float> x({5}, in), y = Tensor<float>::zeros({5});
    EXPECT_LAUNCH_OK(c.op, {x.desc}, {y.desc});
    for (size_t i = 0; i < in.size(); ++i) EXPECT_FLOAT_EQ(y.data[i], static_cast<float>(c.f(in[i]))) << c.op;
  }
  Tensor<double> x({4}, {4.0, 0.25, 0.0, -1.0}), y = Tensor<double>::zeros({4});
  EXPECT_LAUNCH_OK(KILN_OP_SQRT, {x.desc}, {y.desc});
  expect_near_all(y.data, {2.0, 0.5, 0.0, kNaN}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_RSQRT, {x.desc}, {y.desc});
  expect_near_all(y.data, {0.5, 2.0, kInf, kNaN}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_LOG, {x.desc}, {y.desc});
  expect_near_all(y.data, {std::log(4.0), std::log(0.25), -kInf, kNaN}, 0);
}

TEST(RefPointwise, AddReadsTransposedAndBroadcastInputs) {
  // a is the transpose of a 3x2 storage (strides {1, 2}) with element offset 1; b is a row
  // broadcast over 2 rows (stride 0).
  Tensor<float> a({7}, {-1, 1, 2, 3, 4, 5, 6}), b({3}, {10, 20, 30}), out = Tensor<float>::zeros({2, 3});
  kiln_tensor_desc at = a.desc;
  at.ndim = 2, at.offset = 1, at.shape[0] = 2, at.shape[1] = 3, at.strides[0] = 1, at.strides[1] = 2;
  kiln_tensor_desc bt = b.desc;
  bt.ndim = 2, bt.shape[0] = 2, bt.shape[1] = 3, bt.strides[0] = 0, bt.strides[1] = 1;
  EXPECT_LAUNCH_OK(KILN_OP_ADD, {at, bt}, {out.desc});
  // a^T = [[1, 3, 5], [2, 4, 6]]
  expect_near_all(out.data, {11, 23, 35, 12, 24, 36}, 0);
}

TEST(RefPointwise, ScalarsAndEmptyTensors) {
  Tensor<double> s({}, {2.5}), t({}, {4.0}), out = Tensor<double>::zeros({});
  EXPECT_LAUNCH_OK(KILN_OP_MUL, {s.desc, t.desc}, {out.desc});
  EXPECT_EQ(out.data[0], 10.0);
  Tensor<float> e = Tensor<float>::zeros({0, 3}), eo = Tensor<float>::zeros({0, 3});
  e.desc.data = nullptr, eo.desc.data = nullptr;  // nothing may be touched
  EXPECT_LAUNCH_OK(KILN_OP_ADD, {e.desc, e.desc}, {eo.desc});
  EXPECT_LAUNCH_OK(KILN_OP_EXP, {e.desc}, {eo.desc});
}

TEST(RefPointwise, IntegerArithmeticTruncatesAndWraps) {
  const int32_t min = std::numeric_limits<int32_t>::min(), max = std::numeric_limits<int32_t>::max();
  Tensor<int32_t> a({7}, {7, -7, 7, -7, 5, min, max}), b({7}, {2, 2, -2, -2, 0, -1, 1});
  Tensor<int32_t> out = Tensor<int32_t>::zeros({7});
  EXPECT_LAUNCH_OK(KILN_OP_DIV, {a.desc, b.desc}, {out.desc});
  EXPECT_EQ(out.data, (std::vector<int32_t>{3, -3, -3, 3, 0, min, max}));
  EXPECT_LAUNCH_OK(KILN_OP_ADD, {a.desc, b.desc}, {out.desc});
  EXPECT_EQ(out.data[6], min);  // wraps, no signed overflow
  EXPECT_LAUNCH_OK(KILN_OP_NEG, {a.desc}, {out.desc});
  EXPECT_EQ(out.data[5], min);
  EXPECT_LAUNCH_OK(KILN_OP_SIGN, {a.desc}, {out.desc});
  EXPECT_EQ(out.data, (std::vector<int32_t>{1, -1, 1, -1, 1, -1, 1}));

  Tensor<uint8_t> u({3}, {1, 200, 9}), v({3}, {2, 100, 0}), uo = Tensor<uint8_t>::zeros({3});
  EXPECT_LAUNCH_OK(KILN_OP_SUB, {u.desc, v.desc}, {uo.desc});
  EXPECT_EQ(uo.data, (std::vector<uint8_t>{255, 100, 9}));
  EXPECT_LAUNCH_OK(KILN_OP_DIV, {u.desc, v.desc}, {uo.desc});
  EXPECT_EQ(uo.data, (std::vector<uint8_t>{0, 2, 0}));

  Tensor<int64_t> c({4}, {-5, 0, 5, 12}), co = Tensor<int64_t>::zeros({4});
  kiln_scalar_attrs clamp{KILN_ATTRS_HEAD(kiln_scalar_attrs), -kInf, 6.9};  // no lower bound; 6.9 converts to 6
  EXPECT_LAUNCH_OK(KILN_OP_CLAMP, {c.desc}, {co.desc}, &clamp);
  EXPECT_EQ(co.data, (std::vector<int64_t>{-5, 0, 5, 6}));
  kiln_scalar_attrs three{KILN_ATTRS_HEAD(kiln_scalar_attrs), 3.7, 0};
  EXPECT_LAUNCH_OK(KILN_OP_MUL_SCALAR, {c.desc}, {co.desc}, &three);
  EXPECT_EQ(co.data, (std::vector<int64_t>{-15, 0, 15, 36}));
}

TEST(RefPointwise, FloatScalarOpsAndNaN) {
  Tensor<float> x({5}, {-2, -0.5f, 0.5f, 3, kNaNF}), y = Tensor<float>::zeros({5});
  kiln_scalar_attrs clamp{KILN_ATTRS_HEAD(kiln_scalar_attrs), -1, kInf};  // no upper bound
  EXPECT_LAUNCH_OK(KILN_OP_CLAMP, {x.desc}, {y.desc}, &clamp);
  expect_near_all(y.data, {-1, -0.5, 0.5, 3, kNaN}, 0);
  kiln_scalar_attrs slope{KILN_ATTRS_HEAD(kiln_scalar_attrs), 0.1, 0};
  EXPECT_LAUNCH_OK(KILN_OP_LEAKY_RELU, {x.desc}, {y.desc}, &slope);
  expect_near_all(y.data, {-0.2, -0.05, 0.5, 3, kNaN}, 1e-7);
  kiln_scalar_attrs square{KILN_ATTRS_HEAD(kiln_scalar_attrs), 2, 0};
  EXPECT_LAUNCH_OK(KILN_OP_POW_SCALAR, {x.desc}, {y.desc}, &square);
  expect_near_all(y.data, {4, 0.25, 0.25, 9, kNaN}, 0);

  Tensor<float> a({3}, {1, kNaNF, -3}), b({3}, {2, 0, kNaNF}), m = Tensor<float>::zeros({3});
  EXPECT_LAUNCH_OK(KILN_OP_MAXIMUM, {a.desc, b.desc}, {m.desc});
  expect_near_all(m.data, {2, kNaN, kNaN}, 0);
  Tensor<uint8_t> lt = Tensor<uint8_t>::zeros({3}, KILN_DTYPE_BOOL);
  EXPECT_LAUNCH_OK(KILN_OP_LT, {a.desc, b.desc}, {lt.desc});
  EXPECT_EQ(lt.data, (std::vector<uint8_t>{1, 0, 0}));
  EXPECT_LAUNCH_OK(KILN_OP_NE, {a.desc, b.desc}, {lt.desc});
  EXPECT_EQ(lt.data, (std::vector<uint8_t>{1, 1, 1}));
}

TEST(RefPointwise, BoolLogicAndWhere) {
  Tensor<uint8_t> p({4}, {0, 0, 1, 1}, KILN_DTYPE_BOOL), q({4}, {0, 1, 0, 1}, KILN_DTYPE_BOOL);
  Tensor<uint8_t> r = Tensor<uint8_t>::zeros({4}, KILN_DTYPE_BOOL);
  EXPECT_LAUNCH_OK(KILN_OP_MAXIMUM, {p.desc, q.desc}, {r.desc});
  EXPECT_EQ(r.data, (std::vector<uint8_t>{0, 1, 1, 1}));
  EXPECT_LAUNCH_OK(KILN_OP_MINIMUM, {p.desc, q.desc}, {r.desc});
  EXPECT_EQ(r.data, (std::vector<uint8_t>{0, 0, 0, 1}));
  Tensor<double> d({4}, {0.0, -0.0, kNaN, 2});
  EXPECT_LAUNCH_OK(KILN_OP_LOGICAL_NOT, {d.desc}, {r.desc});
  EXPECT_EQ(r.data, (std::vector<uint8_t>{1, 1, 0, 0}));
  Tensor<int64_t> a({4}, {1, 2, 3, 4}), b({4}, {-1, -2, -3, -4}), w = Tensor<int64_t>::zeros({4});
  EXPECT_LAUNCH_OK(KILN_OP_WHERE, {p.desc, a.desc, b.desc}, {w.desc});
  EXPECT_EQ(w.data, (std::vector<int64_t>{-1, -2, 3, 4}));
}

TEST(RefPointwise, GeluBackwardIsTheDerivativeOfGelu) {
  const std::vector<double> xs = {-3, -1, -0.2, 0, 0.7, 2.5};
  Tensor<double> dy({6}, std::vector<double>(6, 2.0)), x({6}, xs), dx = Tensor<double>::zeros({6});
  EXPECT_LAUNCH_OK(KILN_OP_GELU_BACKWARD, {dy.desc, x.desc}, {dx.desc});
  const double h = 1e-6;
  for (size_t i = 0; i < xs.size(); ++i) {
    Tensor<double> xp({2}, {xs[i] + h, xs[i] - h}), yp = Tensor<double>::zeros({2});
    EXPECT_LAUNCH_OK(KILN_OP_GELU, {xp.desc}, {yp.desc});
    EXPECT_NEAR(dx.data[i], 2.0 * (yp.data[0] - yp.data[1]) / (2 * h), 1e-6) << xs[i];
  }
}

// ---- reductions ----
TEST(RefReduce, OverTwoAxesWithKeepdim) {
  // x[i][j][k] = 6i + 2j + k, shape [2, 3, 2]; reduce axes 0 and 2 -> [1, 3, 1].
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[i] = static_cast<float>(i);
  Tensor<float> x({2, 3, 2}, v), out = Tensor<float>::zeros({1, 3, 1});
  const kiln_reduce_attrs axes = reduce_axes({0, 2});
  EXPECT_LAUNCH_OK(KILN_OP_SUM, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {0 + 1 + 6 + 7, 2 + 3 + 8 + 9, 4 + 5 + 10 + 11}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_MEAN, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {3.5, 5.5, 7.5}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_PROD, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {0, 2 * 3 * 8 * 9, 4 * 5 * 10 * 11}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_MAX, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {7, 9, 11}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_MIN, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {0, 2, 4}, 0);
  // {0, 1, 6, 7}: mean 3.5, squared deviations 12.25 + 6.25 + 6.25 + 12.25 = 37
  const kiln_reduce_attrs unbiased = reduce_axes({0, 2}, 1.0);
  EXPECT_LAUNCH_OK(KILN_OP_VAR, {x.desc}, {out.desc}, &unbiased);
  expect_near_all(out.data, {37.0 / 3, 37.0 / 3, 37.0 / 3}, 1e-5);
  EXPECT_LAUNCH_OK(KILN_OP_VAR, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {37.0 / 4, 37.0 / 4, 37.0 / 4}, 1e-6);

  Tensor<int32_t> xi({2, 2}, {std::numeric_limits<int32_t>::max(), 1, 5, -7}),
      oi = Tensor<int32_t>::zeros({2, 1});
  const kiln_reduce_attrs last = reduce_axes({1});
  EXPECT_LAUNCH_OK(KILN_OP_SUM, {xi.desc}, {oi.desc}, &last);
  EXPECT_EQ(oi.data, (std::vector<int32_t>{std::numeric_limits<int32_t>::min(), -2}));
}

TEST(RefReduce, Float32SumAccumulatesInDouble) {
  // 1 + 2^-24 * (2^20 times) is 1.0625 exactly; a float accumulator would stay at 1.
  std::vector<float> v(1 + (1 << 20), std::ldexp(1.0f, -24));
  v[0] = 1.0f;
  Tensor<float> x({static_cast<int64_t>(v.size())}, v), out = Tensor<float>::zeros({1});
  const kiln_reduce_attrs axes = reduce_axes({0});
  EXPECT_LAUNCH_OK(KILN_OP_SUM, {x.desc}, {out.desc}, &axes);
  EXPECT_EQ(out.data[0], 1.0625f);
}

TEST(RefReduce, NaNInfinityAndLogsumexp) {
  Tensor<double> x({3, 3}, {1, kNaN, 3, 1000, 1000, -kInf, -kInf, -kInf, -kInf}),
      out = Tensor<double>::zeros({3, 1});
  const kiln_reduce_attrs rows = reduce_axes({1});
  EXPECT_LAUNCH_OK(KILN_OP_MAX, {x.desc}, {out.desc}, &rows);
  expect_near_all(out.data, {kNaN, 1000, -kInf}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_LOGSUMEXP, {x.desc}, {out.desc}, &rows);
  expect_near_all(out.data, {kNaN, 1000 + std::log(2.0), -kInf}, 1e-12);
  const kiln_reduce_attrs one_sample = reduce_axes({1}, 3.0);  // n - correction = 0
  EXPECT_LAUNCH_OK(KILN_OP_VAR, {x.desc}, {out.desc}, &one_sample);
  EXPECT_TRUE(std::isnan(out.data[0]));
  // n - correction <= 0 divides by zero like PyTorch: inf for a spread, NaN for no spread.
  Tensor<double> v({2, 2}, {1, 2, 3, 3}), vo = Tensor<double>::zeros({2, 1});
  const kiln_reduce_attrs two = reduce_axes({1}, 2.0);
  EXPECT_LAUNCH_OK(KILN_OP_VAR, {v.desc}, {vo.desc}, &two);
  expect_near_all(vo.data, {kInf, kNaN}, 0);
}

TEST(RefReduce, EmptyReductions) {
  Tensor<float> x = Tensor<float>::zeros({2, 0}), out = Tensor<float>::zeros({2, 1});
  const kiln_reduce_attrs axes = reduce_axes({1});
  EXPECT_LAUNCH_OK(KILN_OP_SUM, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {0, 0}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_PROD, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {1, 1}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_MEAN, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {kNaN, kNaN}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_VAR, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {kNaN, kNaN}, 0);
  EXPECT_LAUNCH_OK(KILN_OP_LOGSUMEXP, {x.desc}, {out.desc}, &axes);
  expect_near_all(out.data, {-kInf, -kInf}, 0);
  for (kiln_op op : {KILN_OP_MAX, KILN_OP_MIN}) {
    EXPECT_EQ(launch(op, {x.desc}, {out.desc}, &axes), KILN_STATUS_INVALID_ARGUMENT);
    EXPECT_NE(last_error().find(op == KILN_OP_MAX ? "max" : "min"), std::string::npos) << last_error();
    EXPECT_NE(last_error().find("empty"), std::string::npos) << last_error();
  }
  Tensor<int64_t> idx = Tensor<int64_t>::zeros({2, 1});
  EXPECT_EQ(launch(KILN_OP_ARGMAX, {x.desc}, {idx.desc}, &axes), KILN_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("argmax"), std::string::npos) << last_error();
}

TEST(RefReduce, ArgmaxFirstOccurrenceAndNaN) {
  Tensor<float> x({3, 4}, {1, 5, 5, 2, 3, kNaNF, 9, kNaNF, -1, -4, -4, 0});
  Tensor<int64_t> idx = Tensor<int64_t>::zeros({3, 1});
  const kiln_reduce_attrs rows = reduce_axes({1});
  EXPECT_LAUNCH_OK(KILN_OP_ARGMAX, {x.desc}, {idx.desc}, &rows);
  EXPECT_EQ(idx.data, (std::vector<int64_t>{1, 1, 3}));
  EXPECT_LAUNCH_OK(KILN_OP_ARGMIN, {x.desc}, {idx.desc}, &rows);
  EXPECT_EQ(idx.data, (std::vector<int64_t>{0, 1, 1}));
  Tensor<int64_t> cols = Tensor<int64_t>::zeros({1, 4});
  const kiln_reduce_attrs down = reduce_axes({0});
  Tensor<int32_t> xi({3, 4}, {1, 5, 5, 2, 3, 7, 9, 7, -1, -4, 9, 0});
  EXPECT_LAUNCH_OK(KILN_OP_ARGMAX, {xi.desc}, {cols.desc}, &down);
  EXPECT_EQ(cols.data, (std::vector<int64_t>{1, 1, 1, 1}));
}

}  // namespace
}  // namespace kiln_ref_test
