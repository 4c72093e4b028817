// float16 and bfloat16 on the reference backend: computed through float32, rounded to nearest even
// on store (Note [Half precision through float32] in backends/ref/half.cpp).
#include "ref_kernels.hpp"

namespace kiln_ref_test {
namespace {

std::vector<uint16_t> to_half(int32_t dtype, std::initializer_list<float> values) {
  std::vector<uint16_t> out;
  for (float v : values) out.push_back(dtype == KILN_DTYPE_FLOAT16 ? kiln_f32_to_f16(v) : kiln_f32_to_bf16(v));
  return out;
}
std::vector<double> from_half(int32_t dtype, const std::vector<uint16_t>& bits) {
  std::vector<double> out;
  for (uint16_t b : bits) out.push_back(dtype == KILN_DTYPE_FLOAT16 ? kiln_f16_to_f32(b) : kiln_bf16_to_f32(b));
  return out;
}

TEST(RefHalf, ConversionsRoundToNearestEven) {
  EXPECT_EQ(kiln_f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(kiln_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00);      // a tie goes to the even neighbour
  EXPECT_EQ(kiln_f32_to_f16(1.0f + 3.0f / 2048), 0x3c02);
  EXPECT_EQ(kiln_f32_to_f16(65520.0f), 0x7c00);                 // rounds past the largest half: inf
  EXPECT_EQ(kiln_f32_to_f16(65519.0f), 0x7bff);
  EXPECT_EQ(kiln_f32_to_f16(5.9604645e-8f), 0x0001);            // the smallest subnormal
  EXPECT_EQ(kiln_f16_to_f32(0x0001), 5.9604645e-8f);
  EXPECT_TRUE(std::isnan(kiln_f16_to_f32(kiln_f32_to_f16(kNaNF))));
  EXPECT_EQ(kiln_f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(kiln_f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // overflow rounds to inf
  EXPECT_EQ(kiln_f32_to_bf16(1.0f + 1.0f / 256), 0x3f80);                   // a tie goes to even
  EXPECT_TRUE(std::isnan(kiln_bf16_to_f32(kiln_f32_to_bf16(kNaNF))));
  // Every half value survives a round trip through float32.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = kiln_f16_to_f32(static_cast<uint16_t>(h));
    if (!std::isnan(f)) {
      ASSERT_EQ(kiln_f32_to_f16(f), h);
    }
    const float b = kiln_bf16_to_f32(static_cast<uint16_t>(h));
    if (!std::isnan(b)) {
      ASSERT_EQ(kiln_f32_to_bf16(b), h);
    }
  }
}

class RefHalfOps : public ::testing::TestWithParam<int32_t> {};

TEST_P(RefHalfOps, PointwiseReductionMatmulRunThroughFloat) {
  const int32_t dt = GetParam();
  kiln_device_t dev = device();
  int32_t sig[3] = {dt, dt, dt};
  EXPECT_EQ(api()->supports(api()->backend, KILN_OP_ADD, sig, 3, nullptr), 1);

  Tensor<uint16_t> a({4}, to_half(dt, {1.0f, 2.5f, -3.0f, 1000.0f}), dt);
  Tensor<uint16_t> b({4}, to_half(dt, {0.5f, 0.25f, 3.0f, 0.125f}), dt);
  Tensor<uint16_t> c = Tensor<uint16_t>::zeros({4}, dt);
  EXPECT_LAUNCH_OK(KILN_OP_ADD, {a.desc, b.desc}, {c.desc});
  // 1000.125 is not a half: float16 rounds it to 1000, bfloat16 (8 bits) to 1000 too.
  expect_near_all(from_half(dt, c.data), {1.5, 2.75, 0, 1000}, 0);

  Tensor<uint16_t> e = Tensor<uint16_t>::zeros({4}, dt);
  EXPECT_LAUNCH_OK(KILN_OP_EXP, {b.desc}, {e.desc});
  const double tol = dt == KILN_DTYPE_FLOAT16 ? 2e-3 : 2e-2;
  auto got = from_half(dt, e.data);
  for (size_t i = 0; i < 4; ++i) {
    const double want = std::exp(from_half(dt, b.data)[i]);
    EXPECT_NEAR(got[i], want, tol * want) << i;
  }

  // A reduction accumulates in float (double, in ref) and rounds once.
  Tensor<uint16_t> x({2, 3}, to_half(dt, {1, 2, 3, 4, 5, 6}), dt);
  Tensor<uint16_t> s = Tensor<uint16_t>::zeros({2, 1}, dt);
  const kiln_reduce_attrs axis1 = reduce_axes({1});
  EXPECT_LAUNCH_OK(KILN_OP_SUM, {x.desc}, {s.desc}, &axis1);
  expect_near_all(from_half(dt, s.data), {6, 15}, 0);

  Tensor<uint16_t> w({1, 3, 2}, to_half(dt, {1, 0, 0, 1, 1, 1}), dt);
  Tensor<uint16_t> xm({1, 2, 3}, to_half(dt, {1, 2, 3, 4, 5, 6}), dt);
  Tensor<uint16_t> y = Tensor<uint16_t>::zeros({1, 2, 2}, dt);
  EXPECT_LAUNCH_OK(KILN_OP_MATMUL, {xm.desc, w.desc}, {y.desc});
  expect_near_all(from_half(dt, y.data), {4, 5, 10, 11}, 0);

  // Comparisons write bool; argmax writes int64.
  Tensor<uint8_t> lt = Tensor<uint8_t>::zeros({4}, KILN_DTYPE_BOOL);
  EXPECT_LAUNCH_OK(KILN_OP_LT, {a.desc, b.desc}, {lt.desc});
  EXPECT_EQ(lt.data, (std::vector<uint8_t>{0, 0, 1, 0}));
  Tensor<int64_t> am = Tensor<int64_t>::zeros({2, 1});
  EXPECT_LAUNCH_OK(KILN_OP_ARGMAX, {x.desc}, {am.desc}, &axis1);
  EXPECT_EQ(am.data, (std::vector<int64_t>{2, 2}));
  (void)dev;
}

TEST_P(RefHalfOps, CastAndStridedFillKeepTheRestOfTheBuffer) {
  const int32_t dt = GetParam();
  Tensor<float> f({3}, {0.1f, 65504.0f, -2.0f});
  Tensor<uint16_t> h = Tensor<uint16_t>::zeros({3}, dt);
  EXPECT_LAUNCH_OK(KILN_OP_CAST, {f.desc}, {h.desc});
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(h.data[i], dt == KILN_DTYPE_FLOAT16 ? kiln_f32_to_f16(f.data[i]) : kiln_f32_to_bf16(f.data[i])) << i;
  Tensor<int32_t> back = Tensor<int32_t>::zeros({3});
  EXPECT_LAUNCH_OK(KILN_OP_CAST, {h.desc}, {back.desc});
  EXPECT_EQ(back.data[2], -2);

  // FILL a every-other-element view: the elements between stay as they were.
  Tensor<uint16_t> buf({6}, to_half(dt, {9, 9, 9, 9, 9, 9}), dt);
  kiln_tensor_desc view = buf.desc;
  view.shape[0] = 3;
  view.strides[0] = 2;
  view.offset = 1;
  const kiln_scalar_attrs half_value{KILN_ATTRS_HEAD(kiln_scalar_attrs), 0.5, 0};
  EXPECT_LAUNCH_OK(KILN_OP_FILL, {}, {view}, &half_value);
  expect_near_all(from_half(dt, buf.data), {9, 0.5, 9, 0.5, 9, 0.5}, 0);

  // In place: out is one of the inputs.
  Tensor<uint16_t> acc({2}, to_half(dt, {1, 2}), dt);
  EXPECT_LAUNCH_OK(KILN_OP_MUL, {acc.desc, acc.desc}, {acc.desc});
  expect_near_all(from_half(dt, acc.data), {1, 4}, 0);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, RefHalfOps, ::testing::Values(KILN_DTYPE_FLOAT16, KILN_DTYPE_BFLOAT16),
                         [](const auto& info) { return std::string(info.param == KILN_DTYPE_FLOAT16 ? "float16" : "bfloat16"); });

}  // namespace
}  // namespace kiln_ref_test
