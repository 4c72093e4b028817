// PyTorch-style printing.
#include <gtest/gtest.h>
#include <kiln/autograd.hpp>
#include <kiln/ops.hpp>
#include <kiln/tensor.hpp>

#include <limits>
#include <sstream>
#include <string>

namespace {

using kiln::Tensor;

TEST(core_print, Integers) {
  EXPECT_EQ(kiln::from_vector<int64_t>({1, 2, 3}).str(), "tensor([1, 2, 3])");
  EXPECT_EQ(kiln::from_vector<int64_t>({1, -20, 300}).str(), "tensor([  1, -20, 300])");
  EXPECT_EQ(kiln::from_vector<int32_t>({4, 5}).str(), "tensor([4, 5], dtype=int32)");
  EXPECT_EQ(kiln::from_vector<uint8_t>({7}, {1}).str(), "tensor([7], dtype=uint8)");
}

TEST(core_print, Floats) {
  EXPECT_EQ(kiln::tensor({1, 2, 3}).str(), "tensor([1., 2., 3.])");
  EXPECT_EQ(kiln::tensor({1.5, 2.25}).str(), "tensor([1.5000, 2.2500])");
  EXPECT_EQ(kiln::tensor({1, 2.5}).str(), "tensor([1.0000, 2.5000])");
  EXPECT_EQ(kiln::tensor({-1.5, 2}).str(), "tensor([-1.5000,  2.0000])");
  EXPECT_EQ(kiln::tensor({0.5}, {.dtype = kiln::kFloat64}).str(), "tensor([0.5000], dtype=float64)");
}

TEST(core_print, Scientific) {
  EXPECT_EQ(kiln::tensor({1e-5, 1.0}).str(), "tensor([1.0000e-05, 1.0000e+00])");
  EXPECT_EQ(kiln::tensor({1e9, 1.0}).str(), "tensor([1.0000e+09, 1.0000e+00])");
  EXPECT_EQ(kiln::tensor({0.5, 1500.5}).str(), "tensor([5.0000e-01, 1.5005e+03])");
}

TEST(core_print, NonFinite) {
  Tensor t = kiln::from_vector<float>({1.0f, std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()});
  EXPECT_EQ(t.str(), "tensor([1., inf, nan])");
  EXPECT_EQ(kiln::from_vector<float>({-std::numeric_limits<float>::infinity(), 2.5f}).str(), "tensor([  -inf, 2.5000])");
}

TEST(core_print, Bool) {
  EXPECT_EQ(kiln::from_vector<bool>({true, false}).str(), "tensor([ True, False])");
  EXPECT_EQ(kiln::gt(kiln::tensor({1, 3}), kiln::tensor({2, 2})).str(), "tensor([False,  True])");
}

TEST(core_print, Scalars) {
  EXPECT_EQ(kiln::scalar_tensor(3).str(), "tensor(3.)");
  EXPECT_EQ(kiln::scalar_tensor(0.25).str(), "tensor(0.2500)");
  EXPECT_EQ(kiln::scalar_tensor(3, {.dtype = kiln::kInt64}).str(), "tensor(3)");
  EXPECT_EQ(kiln::scalar_tensor(1, {.dtype = kiln::kBool}).str(), "tensor(True)");
}

TEST(core_print, Nested) {
  Tensor m = kiln::arange(6, {.dtype = kiln::kFloat32}).reshape({2, 3});
  EXPECT_EQ(m.str(), "tensor([[0., 1., 2.],\n        [3., 4., 5.]])");
  Tensor c = kiln::arange(8).reshape({2, 2, 2});
  EXPECT_EQ(c.str(), "tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]])");
  // A transposed view prints in logical order.
  EXPECT_EQ(m.t().str(), "tensor([[0., 3.],\n        [1., 4.],\n        [2., 5.]])");
  std::ostringstream os;
  os << kiln::tensor({1, 2});
  EXPECT_EQ(os.str(), "tensor([1., 2.])");
}

TEST(core_print, Empty) {
  EXPECT_EQ(kiln::zeros({0}).str(), "tensor([])");
  EXPECT_EQ(kiln::zeros({0, 3}).str(), "tensor([], size=(0, 3))");
}

TEST(core_print, ElidesLargeTensors) {
  Tensor big = kiln::arange(2000);
  EXPECT_EQ(big.str(), "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])");
  Tensor m = kiln::arange(1100).reshape({100, 11});
  std::string s = m.str();
  EXPECT_NE(s.find("..."), std::string::npos);
  EXPECT_EQ(s.rfind("tensor([[   0,    1,    2,  ...,    8,    9,   10],", 0), 0u) << s;
  EXPECT_NE(s.find("[1089, 1090, 1091,  ..., 1097, 1098, 1099]])"), std::string::npos) << s;
  EXPECT_NE(s.find("],\n        ...,\n        ["), std::string::npos) << s;
  // Small tensors are never elided.
  EXPECT_EQ(kiln::arange(10).str().find("..."), std::string::npos);
}

TEST(core_print, AutogradSuffix) {
  Tensor x = kiln::tensor({1, 2}).set_requires_grad();
  EXPECT_EQ(x.str(), "tensor([1., 2.], requires_grad=True)");
  Tensor y = kiln::mul(x, 2.0);
  EXPECT_EQ(y.str(), "tensor([2., 4.], grad_fn=<mul_scalar>)");
}

}  // namespace

// float16 and bfloat16 print through float, with their dtype named.
TEST(core_print, HalfDtypesPrintThroughFloat) {
  const kiln::Tensor x = kiln::from_vector<float>({1.5f, -2.0f, 0.25f});
  const std::string h = x.to(kiln::kFloat16).str(), b = x.to(kiln::kBFloat16).str();
  EXPECT_NE(h.find("1.5"), std::string::npos) << h;
  EXPECT_NE(h.find("-2"), std::string::npos) << h;
  EXPECT_NE(h.find("dtype=float16"), std::string::npos) << h;
  EXPECT_NE(b.find("0.25"), std::string::npos) << b;
  EXPECT_NE(b.find("dtype=bfloat16"), std::string::npos) << b;
}
