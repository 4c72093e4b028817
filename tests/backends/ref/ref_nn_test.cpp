// The reference backend's matmul, convolution, pooling and softmax against hand-computed values
// and finite differences.
#include "ref_kernels.hpp"

namespace kiln_ref_test {
namespace {

// ---- matmul ----
TEST(RefMatmul, TransposedStridesAndBatchBroadcast) {
  // a = [[1, 2, 3], [4, 5, 6]] stored as its transpose; b = [[1, 0], [0, 1], [1, 1]] shared by 2 batches.
  Tensor<double> at({3, 2}, {1, 4, 2, 5, 3, 6}), b({3, 2}, {1, 0, 0, 1, 1, 1}),
      out = Tensor<double>::zeros({2, 2, 2});
  kiln_tensor_desc a = at.desc;
  a.ndim = 3, a.shape[0] = 2, a.shape[1] = 2, a.shape[2] = 3, a.strides[0] = 0, a.strides[1] = 1,
  a.strides[2] = 2;
  kiln_tensor_desc bb = b.desc;
  bb.ndim = 3, bb.shape[0] = 2, bb.shape[1] = 3, bb.shape[2] = 2, bb.strides[0] = 0, bb.strides[1] = 2,
  bb.strides[2] = 1;
  EXPECT_LAUNCH_OK(KILN_OP_MATMUL, {a, bb}, {out.desc});
  expect_near_all(out.data, {4, 5, 10, 11, 4, 5, 10, 11}, 0);

  Tensor<int64_t> ai({1, 1, 2}, {3, -2}), bi({1, 2, 1}, {5, 7}), oi = Tensor<int64_t>::zeros({1, 1, 1});
  EXPECT_LAUNCH_OK(KILN_OP_MATMUL, {ai.desc, bi.desc}, {oi.desc});
  EXPECT_EQ(oi.data[0], 1);
  EXPECT_EQ(launch(KILN_OP_MATMUL, {ai.desc, ai.desc}, {oi.desc}), KILN_STATUS_INVALID_ARGUMENT);
}

// ---- convolution ----

TEST(RefConv, HandComputedPaddingAndStride) {
  // x = [[1..3], [4..6], [7..9]], w = [[1, 2], [3, 4]], padding 1, stride 2 -> 2x2.
  Tensor<float> x({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}), w({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor<float> y = Tensor<float>::zeros({1, 1, 2, 2});
  const kiln_conv2d_attrs attrs = conv_attrs(2, 1, 1, 1);
  EXPECT_LAUNCH_OK(KILN_OP_CONV2D, {x.desc, w.desc}, {y.desc}, &attrs);
  // (0,0): only x[0][0]*4; (0,1): x[0][1]*3 + x[0][2]*4; (1,0): x[1][0]*2 + x[2][0]*4;
  // (1,1): x[1][1]*1 + x[1][2]*2 + x[2][1]*3 + x[2][2]*4
  expect_near_all(y.data, {4, 2 * 3 + 3 * 4, 4 * 2 + 7 * 4, 5 + 12 + 24 + 36}, 0);
  Tensor<float> bad = Tensor<float>::zeros({1, 1, 3, 3});
  EXPECT_EQ(launch(KILN_OP_CONV2D, {x.desc, w.desc}, {bad.desc}, &attrs), KILN_STATUS_INVALID_ARGUMENT);
}

// Sum of a .* b.
double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
std::vector<double> ramp(size_t n, double scale, double shift) {
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = std::sin(scale * static_cast<double>(i) + shift);
  return v;
}

TEST(RefConv, GroupsDilationAndBothBackwardsByFiniteDifferences) {
  // x [2, 4, 5, 6], groups 2, w [6, 2, 2, 3], stride 2, padding 1, dilation 2 -> y [2, 6, 3, 2].
  const std::vector<int64_t> xs = {2, 4, 5, 6}, ws = {6, 2, 2, 3}, ys = {2, 6, 3, 2};
  const kiln_conv2d_attrs attrs = conv_attrs(2, 1, 2, 2);
  Tensor<double> x(xs, ramp(240, 0.37, 0.1)), w(ws, ramp(72, 0.91, 0.5)), g(ys, ramp(72, 1.3, 0.2));
  Tensor<double> y = Tensor<double>::zeros(ys);
  EXPECT_LAUNCH_OK(KILN_OP_CONV2D, {x.desc, w.desc}, {y.desc}, &attrs);

  // Forward against a direct transcription of the definition.
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t o = 0; o < 6; ++o)
      for (int64_t oh = 0; oh < 3; ++oh)
        for (int64_t ow = 0; ow < 2; ++ow) {
          double want = 0;
          for (int64_t c = 0; c < 2; ++c)
            for (int64_t kh = 0; kh < 2; ++kh)
              for (int64_t kw = 0; kw < 3; ++kw) {
                const int64_t ih = oh * 2 - 1 + kh * 2, iw = ow * 2 - 1 + kw * 2, ci = (o / 3) * 2 + c;
                if (ih >= 0 && ih < 5 && iw >= 0 && iw < 6)
                  want += x.data[((n * 4 + ci) * 5 + ih) * 6 + iw] * w.data[((o * 2 + c) * 2 + kh) * 3 + kw];
              }
          EXPECT_NEAR(y.data[((n * 6 + o) * 3 + oh) * 2 + ow], want, 1e-12);
        }

  // L = <conv(x, w), g> is linear in x and in w, so a unit finite difference is its exact gradient.
  auto loss = [&](const Tensor<double>& xx, const Tensor<double>& ww) {
    Tensor<double> yy = Tensor<double>::zeros(ys);
    EXPECT_EQ(launch(KILN_OP_CONV2D, {xx.desc, ww.desc}, {yy.desc}, &attrs), KILN_STATUS_OK);
    return dot(yy.data, g.data);
  };
  const double base = loss(x, w);
  Tensor<double> dx = Tensor<double>::zeros(xs), dw = Tensor<double>::zeros(ws);
  EXPECT_LAUNCH_OK(KILN_OP_CONV2D_BACKWARD_INPUT, {g.desc, w.desc}, {dx.desc}, &attrs);
  EXPECT_LAUNCH_OK(KILN_OP_CONV2D_BACKWARD_WEIGHT, {g.desc, x.desc}, {dw.desc}, &attrs);
  for (size_t i = 0; i < x.data.size(); ++i) {
    Tensor<double> xp(xs, x.data);
    xp.data[i] += 1;
    EXPECT_NEAR(dx.data[i], loss(xp, w) - base, 1e-9) << "dx " << i;
  }
  for (size_t i = 0; i < w.data.size(); ++i) {
    Tensor<double> wp(ws, w.data);
    wp.data[i] += 1;
    EXPECT_NEAR(dw.data[i], loss(x, wp) - base, 1e-9) << "dw " << i;
  }
}

// ---- pooling ----
kiln_pool2d_attrs pool_attrs(int64_t kernel, int64_t stride, int64_t padding, int64_t dilation = 1,
                             int32_t count_include_pad = 1) {
  kiln_pool2d_attrs a = kiln_pool2d_attrs_init();
  for (int i = 0; i < 2; ++i)
    a.kernel[i] = kernel, a.stride[i] = stride, a.padding[i] = padding, a.dilation[i] = dilation;
  a.count_include_pad = count_include_pad;
  return a;
}

TEST(RefPool, MaxPoolValuesIndicesAndBackward) {
  // All negative, padding 1: padded cells (-inf) never win.
  Tensor<float> x({1, 1, 3, 3}, {-9, -2, -3, -4, -5, -1, -7, -8, -6});
  Tensor<float> y = Tensor<float>::zeros({1, 1, 2, 2});
  Tensor<int64_t> idx = Tensor<int64_t>::zeros({1, 1, 2, 2});
  const kiln_pool2d_attrs attrs = pool_attrs(2, 2, 1);
  EXPECT_LAUNCH_OK(KILN_OP_MAXPOOL2D, {x.desc}, {y.desc, idx.desc}, &attrs);
  expect_near_all(y.data, {-9, -2, -4, -1}, 0);
  EXPECT_EQ(idx.data, (std::vector<int64_t>{0, 1, 3, 5}));

  // Overlapping windows (kernel 2, stride 1) that pick the same cell accumulate in backward.
  Tensor<double> z({1, 1, 3, 3}, {1, 2, 3, 4, 9, 5, 6, 7, 8});
  Tensor<double> zy = Tensor<double>::zeros({1, 1, 2, 2});
  Tensor<int64_t> zi = Tensor<int64_t>::zeros({1, 1, 2, 2});
  const kiln_pool2d_attrs overlap = pool_attrs(2, 1, 0);
  EXPECT_LAUNCH_OK(KILN_OP_MAXPOOL2D, {z.desc}, {zy.desc, zi.desc}, &overlap);
  EXPECT_EQ(zi.data, (std::vector<int64_t>{4, 4, 4, 4}));
  Tensor<double> dy({1, 1, 2, 2}, {1, 2, 3, 4}), dx = Tensor<double>::zeros({1, 1, 3, 3});
  EXPECT_LAUNCH_OK(KILN_OP_MAXPOOL2D_BACKWARD, {dy.desc, zi.desc}, {dx.desc}, &overlap);
  expect_near_all(dx.data, {0, 0, 0, 0, 10, 0, 0, 0, 0}, 0);

  // Dilation 2 on a 1x5 row with kernel 1x2: windows read columns {0, 2}, {1, 3}, {2, 4}.
  kiln_pool2d_attrs dil = pool_attrs(1, 1, 0, 2);
  dil.kernel[1] = 2;
  Tensor<float> r({1, 1, 1, 5}, {5, 1, 3, 7, 2}), ry = Tensor<float>::zeros({1, 1, 1, 3});
  Tensor<int64_t> ri = Tensor<int64_t>::zeros({1, 1, 1, 3});
  EXPECT_LAUNCH_OK(KILN_OP_MAXPOOL2D, {r.desc}, {ry.desc, ri.desc}, &dil);
  expect_near_all(ry.data, {5, 7, 3}, 0);
  EXPECT_EQ(ri.data, (std::vector<int64_t>{0, 3, 2}));

  zi.data[2] = 9;  // out of the 3x3 plane
  EXPECT_EQ(launch(KILN_OP_MAXPOOL2D_BACKWARD, {dy.desc, zi.desc}, {dx.desc}, &overlap),
            KILN_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(last_error().find("maxpool2d_backward"), std::string::npos) << last_error();
}

TEST(RefPool, AvgPoolCountIncludePadBothWays) {
  // x 3x3 = 1..9, kernel 2, stride 2, padding 1 -> 2x2 windows: {1}, {2,3}, {4,7}, {5,6,8,9}.
  Tensor<double> x({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}), y = Tensor<double>::zeros({1, 1, 2, 2});
  const kiln_pool2d_attrs with_pad = pool_attrs(2, 2, 1, 1, 1), without_pad = pool_attrs(2, 2, 1, 1, 0);
  EXPECT_LAUNCH_OK(KILN_OP_AVGPOOL2D, {x.desc}, {y.desc}, &with_pad);
  expect_near_all(y.data, {1 / 4.0, 5 / 4.0, 11 / 4.0, 28 / 4.0}, 1e-15);
  EXPECT_LAUNCH_OK(KILN_OP_AVGPOOL2D, {x.desc}, {y.desc}, &without_pad);
  expect_near_all(y.data, {1, 5 / 2.0, 11 / 2.0, 28 / 4.0}, 1e-15);

  // ceil_mode with x 4x4, kernel 3, stride 2, no padding: OH = 2; the last window is [2, 5) clipped
  // to [2, 4) with pool_size (min(5, 4) - 2)^2 = 4 either way.
  kiln_pool2d_attrs ceil = pool_attrs(3, 2, 0, 1, 1);
  ceil.ceil_mode = 1;
  std::vector<double> v(16);
  for (int i = 0; i < 16; ++i) v[i] = i;
  Tensor<double> x4({1, 1, 4, 4}, v), y4 = Tensor<double>::zeros({1, 1, 2, 2});
  EXPECT_LAUNCH_OK(KILN_OP_AVGPOOL2D, {x4.desc}, {y4.desc}, &ceil);
  expect_near_all(y4.data, {5, 6.5, 11, 12.5}, 1e-15);

  // Backward is the adjoint of forward: <avgpool(x), g> == <x, avgpool_backward(g)>.
  for (const kiln_pool2d_attrs* attrs : {&with_pad, &without_pad}) {
    Tensor<double> g({1, 1, 2, 2}, {0.5, -1, 2, 3}), dx = Tensor<double>::zeros({1, 1, 3, 3});
    EXPECT_LAUNCH_OK(KILN_OP_AVGPOOL2D, {x.desc}, {y.desc}, attrs);
    EXPECT_LAUNCH_OK(KILN_OP_AVGPOOL2D_BACKWARD, {g.desc}, {dx.desc}, attrs);
    EXPECT_NEAR(dot(y.data, g.data), dot(x.data, dx.data), 1e-12);
  }
  Tensor<double> g({1, 1, 2, 2}, {4, 4, 4, 4}), dx = Tensor<double>::zeros({1, 1, 3, 3});
  EXPECT_LAUNCH_OK(KILN_OP_AVGPOOL2D_BACKWARD, {g.desc}, {dx.desc}, &with_pad);
  expect_near_all(dx.data, {1, 1, 1, 1, 1, 1, 1, 1, 1}, 0);
}

// ---- softmax ----
TEST(RefSoftmax, ForwardStableAndBackward) {
  // Rows along axis 1 of [2, 3]; the second row is shifted by 1000 (stable: same result).
  Tensor<double> x({2, 3}, {1, 2, 3, 1001, 1002, 1003}), y = Tensor<double>::zeros({2, 3});
  const kiln_axis_attrs axis{KILN_ATTRS_HEAD(kiln_axis_attrs), 1};
  EXPECT_LAUNCH_OK(KILN_OP_SOFTMAX, {x.desc}, {y.desc}, &axis);
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  const std::vector<double> p = {std::exp(1.0) / z, std::exp(2.0) / z, std::exp(3.0) / z};
  expect_near_all(y.data, {p[0], p[1], p[2], p[0], p[1], p[2]}, 1e-15);

  Tensor<double> ly = Tensor<double>::zeros({2, 3});
  EXPECT_LAUNCH_OK(KILN_OP_LOG_SOFTMAX, {x.desc}, {ly.desc}, &axis);
  expect_near_all(
      ly.data,
      {std::log(p[0]), std::log(p[1]), std::log(p[2]), std::log(p[0]), std::log(p[1]), std::log(p[2])},
      1e-12);

  // dx = y * (dy - sum(dy * y)) and dx = dy - exp(y) * sum(dy), by hand for dy = [1, 0, -1].
  Tensor<double> dy({2, 3}, {1, 0, -1, 1, 0, -1}), dx = Tensor<double>::zeros({2, 3});
  EXPECT_LAUNCH_OK(KILN_OP_SOFTMAX_BACKWARD, {dy.desc, y.desc}, {dx.desc}, &axis);
  const double s = p[0] - p[2];
  expect_near_all(
      dx.data,
      {p[0] * (1 - s), p[1] * (0 - s), p[2] * (-1 - s), p[0] * (1 - s), p[1] * (0 - s), p[2] * (-1 - s)},
      1e-15);
  EXPECT_LAUNCH_OK(KILN_OP_LOG_SOFTMAX_BACKWARD, {dy.desc, ly.desc}, {dx.desc}, &axis);
  expect_near_all(dx.data, {1, 0, -1, 1, 0, -1}, 1e-15);  // sum(dy) = 0

  // Along axis 0 of a [3, 2] float32 tensor.
  Tensor<float> xc({3, 2}, {0, 5, 0, 5, 0, 5}), yc = Tensor<float>::zeros({3, 2});
  const kiln_axis_attrs axis0{KILN_ATTRS_HEAD(kiln_axis_attrs), 0};
  EXPECT_LAUNCH_OK(KILN_OP_SOFTMAX, {xc.desc}, {yc.desc}, &axis0);
  expect_near_all(yc.data, {1 / 3.0, 1 / 3.0, 1 / 3.0, 1 / 3.0, 1 / 3.0, 1 / 3.0}, 1e-7);
}

}  // namespace
}  // namespace kiln_ref_test
