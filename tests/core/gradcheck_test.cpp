// Gradient checks (float64, central differences) for every differentiable op of ops.hpp and the
// differentiable views.
#include <gtest/gtest.h>
#include <kiln/autograd.hpp>
#include <kiln/nn/functional.hpp>
#include <kiln/ops.hpp>
#include <kiln/random.hpp>
#include <kiln/tensor.hpp>

#include <functional>
#include <string>
#include <vector>

namespace {

using kiln::Shape;
using kiln::Tensor;
using TV = std::vector<Tensor>;
using Fn = std::function<Tensor(const TV&)>;

// A float64 leaf requiring grad with values uniform in [lo, hi).
Tensor leaf(const Shape& shape, double lo = -1, double hi = 1) {
  static kiln::Generator gen(2024);
  Tensor t = kiln::rand(shape, {.dtype = kiln::kFloat64}, &gen);
  t = kiln::add(kiln::mul(t, hi - lo), lo);
  return t.set_requires_grad();
}

// Values with |x| in [0.2, 1] and random sign: away from the kinks of abs, relu, sign, ...
Tensor away_from_zero(const Shape& shape) {
  static kiln::Generator gen(7);
  Tensor mag = kiln::add(kiln::mul(kiln::rand(shape, {.dtype = kiln::kFloat64}, &gen), 0.8), 0.2);
  Tensor sign = kiln::sub(kiln::mul(kiln::bernoulli(mag, 0.5, &gen), 2.0), kiln::ones_like(mag));
  return kiln::mul(mag, sign).set_requires_grad();
}

void check(const std::string& what, const Fn& fn, const TV& inputs) {
  SCOPED_TRACE(what);
  try {
    EXPECT_TRUE(kiln::autograd::gradcheck(fn, inputs));
  } catch (const kiln::Error& e) {
    ADD_FAILURE() << what << ": " << e.what();
  }
}

Tensor index(std::vector<int64_t> v, const Shape& shape = {}) { return kiln::from_vector<int64_t>(v, shape); }

TEST(core_gradcheck, HarnessCatchesAWrongGradient) {
  // y = 2x recorded with a backward of 3 * grad: gradcheck must refuse it.
  Fn wrong = [](const TV& in) {
    Tensor y;
    {
      kiln::NoGradGuard guard;
      y = kiln::mul(in[0], 2.0);
    }
    kiln::autograd::record("wrong", {in[0]}, {y}, [](const TV& g) { return TV{kiln::mul(g[0], 3.0)}; });
    return y;
  };
  EXPECT_THROW(kiln::autograd::gradcheck(wrong, {leaf({3})}), kiln::ValueError);
  EXPECT_THROW(kiln::autograd::gradcheck([](const TV& in) { return in[0]; }, {kiln::zeros({2}).set_requires_grad()}),
               kiln::DTypeError);
}

TEST(core_gradcheck, Binary) {
  Tensor a = leaf({2, 3}), b = leaf({3}), pa = leaf({2, 3}, 0.5, 2), pb = leaf({3}, -1, 2);
  Tensor nz = away_from_zero({3});
  check("add", [](const TV& x) { return kiln::add(x[0], x[1]); }, {a, b});
  check("sub", [](const TV& x) { return kiln::sub(x[0], x[1]); }, {a, b});
  check("mul", [](const TV& x) { return kiln::mul(x[0], x[1]); }, {a, b});
  check("div", [](const TV& x) { return kiln::div(x[0], x[1]); }, {a, nz});
  check("pow", [](const TV& x) { return kiln::pow(x[0], x[1]); }, {pa, pb});
  check("maximum", [](const TV& x) { return kiln::maximum(x[0], x[1]); }, {a, leaf({2, 3})});
  check("minimum", [](const TV& x) { return kiln::minimum(x[0], x[1]); }, {a, leaf({2, 3})});
  check("operators", [](const TV& x) { return (x[0] * x[1] - x[0]) / (x[1] * x[1] + 2.0); }, {a, b});
}

TEST(core_gradcheck, Scalar) {
  Tensor a = leaf({2, 3}), p = leaf({2, 3}, 0.5, 2);
  check("add_scalar", [](const TV& x) { return kiln::add(x[0], 1.5); }, {a});
  check("mul_scalar", [](const TV& x) { return kiln::mul(x[0], -2.5); }, {a});
  check("pow_scalar", [](const TV& x) { return kiln::pow(x[0], 2.5); }, {p});
  check("pow_scalar_negative", [](const TV& x) { return kiln::pow(x[0], -1.5); }, {p});
  check("scalar_minus_tensor", [](const TV& x) { return 3.0 - x[0]; }, {a});
  check("scalar_over_tensor", [](const TV& x) { return 2.0 / x[0]; }, {p});
}

TEST(core_gradcheck, Unary) {
  Tensor a = leaf({2, 3}), p = leaf({2, 3}, 0.5, 2), nz = away_from_zero({2, 3});
  check("neg", [](const TV& x) { return kiln::neg(x[0]); }, {a});
  check("abs", [](const TV& x) { return kiln::abs(x[0]); }, {nz});
  check("exp", [](const TV& x) { return kiln::exp(x[0]); }, {a});
  check("log", [](const TV& x) { return kiln::log(x[0]); }, {p});
  check("sqrt", [](const TV& x) { return kiln::sqrt(x[0]); }, {p});
  check("rsqrt", [](const TV& x) { return kiln::rsqrt(x[0]); }, {p});
  check("sin", [](const TV& x) { return kiln::sin(x[0]); }, {a});
  check("cos", [](const TV& x) { return kiln::cos(x[0]); }, {a});
  check("relu", [](const TV& x) { return kiln::relu(x[0]); }, {nz});
  check("sigmoid", [](const TV& x) { return kiln::sigmoid(x[0]); }, {a});
  check("tanh", [](const TV& x) { return kiln::tanh(x[0]); }, {a});
  check("gelu", [](const TV& x) { return kiln::gelu(x[0]); }, {a});
  check("erf", [](const TV& x) { return kiln::erf(x[0]); }, {a});
  check("silu", [](const TV& x) { return kiln::silu(x[0]); }, {a});
  check("leaky_relu", [](const TV& x) { return kiln::leaky_relu(x[0], 0.2); }, {nz});
  // Values chosen away from the clamp bounds (the gradient is not defined at them).
  Tensor c = kiln::from_vector<double>({-0.9, -0.3, 0.25, 0.45, 0.8, 1.2}, {2, 3}).set_requires_grad();
  check("clamp", [](const TV& x) { return kiln::clamp(x[0], -0.5, 0.6); }, {c});
  check("clamp_min_only", [](const TV& x) { return kiln::clamp(x[0], 0.0, std::nullopt); }, {c});
  check("square", [](const TV& x) { return kiln::square(x[0]); }, {a});
  check("reciprocal", [](const TV& x) { return kiln::reciprocal(x[0]); }, {p});
}

TEST(core_gradcheck, Where) {
  Tensor cond = kiln::from_vector<bool>({true, false, true, false, false, true}, {2, 3});
  check("where", [cond](const TV& x) { return kiln::where(cond, x[0], x[1]); }, {leaf({2, 3}), leaf({3})});
}

TEST(core_gradcheck, MulAdd) {
  check("mul_add", [](const TV& x) { return kiln::mul_add(x[0], x[1], x[2]); }, {leaf({2, 3}), leaf({2, 3}), leaf({2, 3})});
  // Per-channel operands, as batch norm uses it, with the gradients summed back to [1, 3, 1, 1].
  check("mul_add_per_channel", [](const TV& x) { return kiln::mul_add(x[0], x[1], x[2]); },
        {leaf({2, 3, 2, 2}), leaf({1, 3, 1, 1}), leaf({1, 3, 1, 1})});
  check("mul_add_broadcast", [](const TV& x) { return kiln::mul_add(x[0], x[1], x[2]); }, {leaf({3, 1}), leaf({4}), leaf({})});
}

TEST(core_gradcheck, Reductions) {
  Tensor a = leaf({3, 4}), nz = away_from_zero({3, 4});
  check("sum_all", [](const TV& x) { return kiln::sum(x[0]); }, {a});
  check("sum_axis_keepdim", [](const TV& x) { return kiln::sum(x[0], {1}, true); }, {a});
  check("sum_axes", [](const TV& x) { return kiln::sum(x[0], {0, 2}); }, {leaf({2, 3, 2})});
  check("mean", [](const TV& x) { return kiln::mean(x[0], {0}); }, {a});
  check("mean_all", [](const TV& x) { return kiln::mean(x[0]); }, {a});
  check("sum_0d", [](const TV& x) { return kiln::sum(x[0]); }, {leaf({})});
  check("mean_0d", [](const TV& x) { return kiln::mean(x[0]); }, {leaf({})});
  check("prod", [](const TV& x) { return kiln::prod(x[0], {1}); }, {nz});
  check("prod_all", [](const TV& x) { return kiln::prod(x[0]); }, {away_from_zero({5})});
  check("amax", [](const TV& x) { return kiln::amax(x[0], {1}); }, {a});
  check("amin", [](const TV& x) { return kiln::amin(x[0]); }, {a});
  check("logsumexp", [](const TV& x) { return kiln::logsumexp(x[0], {1}); }, {a});
  check("var", [](const TV& x) { return kiln::var(x[0], {1}); }, {a});
  check("var_population", [](const TV& x) { return kiln::var(x[0], {0}, 0.0, true); }, {a});
  check("std", [](const TV& x) { return kiln::std(x[0]); }, {a});
}

TEST(core_gradcheck, Matmul) {
  check("dot", [](const TV& x) { return kiln::matmul(x[0], x[1]); }, {leaf({4}), leaf({4})});
  check("matrix", [](const TV& x) { return kiln::matmul(x[0], x[1]); }, {leaf({2, 3}), leaf({3, 4})});
  check("vector_matrix", [](const TV& x) { return kiln::matmul(x[0], x[1]); }, {leaf({3}), leaf({3, 2})});
  check("matrix_vector", [](const TV& x) { return kiln::matmul(x[0], x[1]); }, {leaf({2, 3}), leaf({3})});
  check("batched_broadcast", [](const TV& x) { return kiln::matmul(x[0], x[1]); }, {leaf({2, 1, 2, 3}), leaf({3, 3, 2})});
  check("batched_by_matrix", [](const TV& x) { return kiln::matmul(x[0], x[1]); }, {leaf({2, 2, 3}), leaf({3, 2})});
  check("transposed_operand", [](const TV& x) { return kiln::matmul(x[0].t(), x[1]); }, {leaf({3, 2}), leaf({3, 2})});
}

TEST(core_gradcheck, Conv2d) {
  check("conv2d", [](const TV& x) { return kiln::conv2d(x[0], x[1]); }, {leaf({1, 2, 4, 4}), leaf({2, 2, 3, 3})});
  check("conv2d_bias_stride_padding",
        [](const TV& x) { return kiln::conv2d(x[0], x[1], x[2], {.stride = {2, 1}, .padding = {1, 1}}); },
        {leaf({2, 2, 5, 4}), leaf({3, 2, 3, 2}), leaf({3})});
  check("conv2d_dilation", [](const TV& x) { return kiln::conv2d(x[0], x[1], Tensor(), {.dilation = {2, 2}}); },
        {leaf({1, 1, 5, 5}), leaf({2, 1, 2, 2})});
  check("conv2d_groups", [](const TV& x) { return kiln::conv2d(x[0], x[1], x[2], {.padding = {1, 0}, .groups = 2}); },
        {leaf({1, 4, 3, 3}), leaf({4, 2, 2, 2}), leaf({4})});
  check("conv2d_unbatched", [](const TV& x) { return kiln::conv2d(x[0], x[1]); }, {leaf({2, 3, 3}), leaf({1, 2, 2, 2})});
}

TEST(core_gradcheck, Pooling) {
  // Random values have no ties, so the max is unique and differentiable.
  check("max_pool2d", [](const TV& x) { return kiln::max_pool2d(x[0], {.kernel = {2, 2}}); }, {leaf({1, 2, 4, 4})});
  check("max_pool2d_overlap_padding",
        [](const TV& x) { return kiln::max_pool2d(x[0], {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}); },
        {leaf({1, 1, 5, 5})});
  check("max_pool2d_ceil", [](const TV& x) { return kiln::max_pool2d(x[0], {.kernel = {2, 2}, .ceil_mode = true}); },
        {leaf({1, 1, 5, 5})});
  check("avg_pool2d", [](const TV& x) { return kiln::avg_pool2d(x[0], {.kernel = {2, 2}}); }, {leaf({1, 2, 4, 4})});
  check("avg_pool2d_exclude_pad",
        [](const TV& x) {
          return kiln::avg_pool2d(x[0], {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .count_include_pad = false});
        },
        {leaf({1, 1, 5, 5})});
  check("adaptive_avg_pool2d", [](const TV& x) { return kiln::adaptive_avg_pool2d(x[0], {2, 3}); }, {leaf({1, 2, 5, 5})});
  check("adaptive_avg_pool2d_divisible", [](const TV& x) { return kiln::adaptive_avg_pool2d(x[0], {2, 2}); },
        {leaf({2, 4, 4})});
}

// batch_norm records its own closed-form backward (Note [Batch norm passes]); check it in
// training mode with and without affine parameters, on 4-D and 2-D inputs, and in eval mode.
TEST(core_gradcheck, BatchNorm) {
  namespace F = kiln::nn::functional;
  Tensor x4 = leaf({3, 2, 2, 3}), x2 = leaf({5, 3}), w = leaf({2}, 0.5, 1.5), b = leaf({2});
  check("batch_norm train affine", [](const TV& in) { return F::batch_norm(in[0], {}, {}, in[1], in[2], true); },
        {x4, w, b});
  check("batch_norm train plain", [](const TV& in) { return F::batch_norm(in[0], {}, {}, {}, {}, true); }, {x2});
  check("batch_norm train weight only",
        [](const TV& in) { return F::batch_norm(in[0], {}, {}, in[1], {}, true); }, {x4, w});
  Tensor rm = kiln::zeros({2}, {.dtype = kiln::kFloat64}), rv = kiln::ones({2}, {.dtype = kiln::kFloat64});
  check("batch_norm eval", [&](const TV& in) { return F::batch_norm(in[0], rm, rv, in[1], in[2], false); },
        {x4, w, b});
}

TEST(core_gradcheck, Softmax) {
  check("softmax", [](const TV& x) { return kiln::softmax(x[0], 1); }, {leaf({2, 4})});
  check("softmax_axis0", [](const TV& x) { return kiln::softmax(x[0], 0); }, {leaf({3, 2})});
  check("log_softmax", [](const TV& x) { return kiln::log_softmax(x[0], -1); }, {leaf({2, 4})});
}

TEST(core_gradcheck, Indexing) {
  check("gather", [](const TV& x) { return kiln::gather(x[0], 1, index({0, 2, 2, 1, 0, 0}, {2, 3})); }, {leaf({2, 3})});
  check("scatter_add",
        [](const TV& x) { return kiln::scatter_add(x[0], 0, index({1, 0, 1, 1, 1, 0}, {2, 3}), x[1]); },
        {leaf({2, 3}), leaf({2, 3})});
  check("index_select", [](const TV& x) { return kiln::index_select(x[0], 0, index({2, 0, 2})); }, {leaf({3, 2})});
  check("index_select_axis1", [](const TV& x) { return kiln::index_select(x[0], 1, index({1, 1})); }, {leaf({2, 3})});
  check("embedding", [](const TV& x) { return kiln::embedding(x[0], index({0, 3, 3, 1}, {2, 2})); }, {leaf({4, 2})});
  check("embedding_padding_idx", [](const TV& x) { return kiln::embedding(x[0], index({0, 1, 0}), 2); },
        {leaf({3, 2})});
}

TEST(core_gradcheck, EmbeddingPaddingRowGetsNoGradient) {
  // By definition (PyTorch's padding_idx), so a finite-difference check does not apply to it.
  Tensor w = leaf({3, 2});
  kiln::sum(kiln::embedding(w, index({0, 2, 1, 2}), 2)).backward();
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{1, 1, 1, 1, 0, 0}));
}

TEST(core_gradcheck, Joining) {
  check("cat", [](const TV& x) { return kiln::cat({x[0], x[1]}, 1); }, {leaf({2, 2}), leaf({2, 3})});
  check("stack", [](const TV& x) { return kiln::stack({x[0], x[1]}, 1); }, {leaf({2, 3}), leaf({2, 3})});
}

TEST(core_gradcheck, Views) {
  // Each view is followed by a non-linear op so a wrong index mapping cannot cancel out.
  auto sq = [](const Tensor& t) { return kiln::mul(t, t); };
  Tensor a = leaf({2, 3, 2});
  check("reshape", [sq](const TV& x) { return sq(x[0].reshape({3, 4})) * kiln::arange(4, {.dtype = kiln::kFloat64}); }, {a});
  check("view", [sq](const TV& x) { return sq(x[0].view({6, 2})); }, {a});
  check("permute", [](const TV& x) { return kiln::matmul(x[0].permute({2, 0, 1}), x[1]); }, {a, leaf({3, 2})});
  check("transpose", [](const TV& x) { return kiln::matmul(x[0].transpose(0, 2), x[1]); }, {a, leaf({2, 2})});
  check("slice_step", [sq](const TV& x) { return sq(x[0].slice(1, 0, 3, 2)); }, {a});
  check("narrow", [sq](const TV& x) { return sq(x[0].narrow(1, 1, 2)); }, {a});
  check("expand", [](const TV& x) { return kiln::mul(x[0].expand({2, 3, 4}), x[1]); }, {leaf({3, 1}), leaf({2, 3, 4})});
  check("select", [sq](const TV& x) { return sq(x[0].select(1, -1)); }, {a});
  check("squeeze_unsqueeze", [sq](const TV& x) { return sq(x[0].unsqueeze(1)).squeeze(1).sum({0}); }, {leaf({3, 1})});
  check("flatten", [sq](const TV& x) { return sq(x[0].flatten(1)); }, {a});
  check("contiguous", [sq](const TV& x) { return sq(x[0].t().contiguous()); }, {leaf({2, 3})});
  check("clone", [sq](const TV& x) { return sq(x[0].clone()); }, {leaf({3})});
}

}  // namespace
