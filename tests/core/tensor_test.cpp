// Tensors: factories, dtypes, views sharing storage, view errors, broadcasting, conversions,
// cat/stack.
#include <gtest/gtest.h>
#include <kiln/device.hpp>
#include <kiln/ops.hpp>
#include <kiln/tensor.hpp>

#include <string>
#include <vector>

namespace {

using kiln::Shape;
using kiln::Tensor;

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

// Expects the call to throw E with a message containing every fragment.
template <typename E, typename Fn>
void expect_error(Fn&& fn, std::initializer_list<const char*> fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected an exception";
  } catch (const E& e) {
    std::string msg = e.what();
    for (const char* f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
  }
}

TEST(core_tensor, Factories) {
  Tensor z = kiln::zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.dtype(), kiln::kFloat32);
  EXPECT_EQ(z.numel(), 6);
  EXPECT_EQ(values(z), std::vector<double>(6, 0.0));
  EXPECT_EQ(values(kiln::ones({4}, {.dtype = kiln::kInt32})), std::vector<double>(4, 1.0));
  EXPECT_EQ(values(kiln::full({2}, 2.5, {.dtype = kiln::kFloat64})), (std::vector<double>{2.5, 2.5}));
  Tensor a = kiln::arange(5);
  EXPECT_EQ(a.dtype(), kiln::kInt64);
  EXPECT_EQ(values(a), (std::vector<double>{0, 1, 2, 3, 4}));
  Tensor af = kiln::arange(0, 1, 0.25, {.dtype = kiln::kFloat32});
  EXPECT_EQ(values(af), (std::vector<double>{0, 0.25, 0.5, 0.75}));
  EXPECT_EQ(kiln::arange(0.0, 1.0, 0.5).dtype(), kiln::kFloat32);  // non-integral step: float
  EXPECT_EQ(values(kiln::linspace(0, 1, 5)), (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
  EXPECT_EQ(values(kiln::eye(2, 3)), (std::vector<double>{1, 0, 0, 0, 1, 0}));
  Tensor s = kiln::scalar_tensor(3.5);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item<double>(), 3.5);
  Tensor t = kiln::tensor({1, 2, 3}, {.dtype = kiln::kInt64});
  EXPECT_EQ(t.dtype(), kiln::kInt64);
  EXPECT_EQ(t.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3}));
  Tensor e = kiln::empty({0, 4});
  EXPECT_EQ(e.numel(), 0);
  EXPECT_TRUE(values(e).empty());
  EXPECT_EQ(kiln::zeros_like(t).dtype(), kiln::kInt64);
  EXPECT_EQ(values(kiln::full_like(t, 7)), (std::vector<double>{7, 7, 7}));
  EXPECT_THROW(kiln::from_vector<float>({1, 2, 3}, {2, 2}), kiln::ShapeError);
  EXPECT_THROW(kiln::empty({2, -1}), kiln::ShapeError);
}

TEST(core_tensor, DTypes) {
  EXPECT_EQ(kiln::dtype_size(kiln::kFloat64), 8u);
  EXPECT_EQ(kiln::dtype_size(kiln::kBool), 1u);
  EXPECT_EQ(kiln::dtype_name(kiln::kUInt8), "uint8");
  EXPECT_EQ(kiln::dtype_from_name("double"), kiln::kFloat64);
  EXPECT_EQ(kiln::dtype_from_name("long"), kiln::kInt64);
  EXPECT_THROW(kiln::dtype_from_name("float8"), kiln::DTypeError);
  EXPECT_EQ(kiln::dtype_from_name("float16"), kiln::kFloat16);
  EXPECT_EQ(kiln::dtype_size(kiln::kBFloat16), 2u);
  EXPECT_EQ(kiln::promote_types(kiln::kFloat16, kiln::kBFloat16), kiln::kFloat32);
  EXPECT_EQ(kiln::promote_types(kiln::kInt64, kiln::kFloat16), kiln::kFloat16);
  EXPECT_EQ(kiln::promote_types(kiln::kFloat16, kiln::kFloat32), kiln::kFloat32);
  EXPECT_EQ(kiln::promote_types(kiln::kInt32, kiln::kFloat32), kiln::kFloat32);
  EXPECT_EQ(kiln::promote_types(kiln::kBool, kiln::kUInt8), kiln::kUInt8);
  EXPECT_EQ(kiln::promote_types(kiln::kInt64, kiln::kInt32), kiln::kInt64);
  Tensor i = kiln::from_vector<int32_t>({1, 2});
  Tensor f = kiln::from_vector<double>({0.5, 0.5});
  Tensor sum = i + f;
  EXPECT_EQ(sum.dtype(), kiln::kFloat64);
  EXPECT_EQ(values(sum), (std::vector<double>{1.5, 2.5}));
  EXPECT_EQ((i / i).dtype(), kiln::kFloat32);  // true division of integers gives floats
  EXPECT_EQ(kiln::from_vector<bool>({true, false}).to_vector<int32_t>(), (std::vector<int32_t>{1, 0}));
}

TEST(core_tensor, ViewsShareStorage) {
  Tensor base = kiln::arange(24, {.dtype = kiln::kFloat32}).reshape({2, 3, 4});
  EXPECT_TRUE(base.is_contiguous());
  auto check_shared = [&](const Tensor& v) { EXPECT_TRUE(v.shares_storage(base)); };

  Tensor r = base.reshape({6, 4});
  check_shared(r);
  EXPECT_EQ(r.shape(), (Shape{6, 4}));
  Tensor v = base.view({4, -1});
  check_shared(v);
  EXPECT_EQ(v.shape(), (Shape{4, 6}));

  Tensor p = base.permute({2, 0, 1});
  check_shared(p);
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Shape{1, 12, 4}));
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(values(p.select(0, 1).select(0, 1)), (std::vector<double>{13, 17, 21}));

  Tensor t = base.transpose(0, 2);
  check_shared(t);
  EXPECT_EQ(t.shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(values(t.select(0, 3).select(0, 2)), (std::vector<double>{11, 23}));

  Tensor s = base.slice(2, 1, 4, 2);  // columns 1 and 3
  check_shared(s);
  EXPECT_EQ(s.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(s.offset(), 1);
  EXPECT_EQ(values(s.select(0, 0)), (std::vector<double>{1, 3, 5, 7, 9, 11}));
  EXPECT_EQ(values(base.slice(2, -2, 100).select(0, 1).select(0, 2)), (std::vector<double>{22, 23}));

  Tensor n = base.narrow(1, 1, 2);
  check_shared(n);
  EXPECT_EQ(n.shape(), (Shape{2, 2, 4}));
  EXPECT_EQ(n.offset(), 4);

  Tensor sel = base.select(1, -1);
  check_shared(sel);
  EXPECT_EQ(sel.shape(), (Shape{2, 4}));
  EXPECT_EQ(values(sel), (std::vector<double>{8, 9, 10, 11, 20, 21, 22, 23}));
  EXPECT_EQ(values(base[1][2]), (std::vector<double>{20, 21, 22, 23}));

  Tensor u = base.unsqueeze(1);
  check_shared(u);
  EXPECT_EQ(u.shape(), (Shape{2, 1, 3, 4}));
  EXPECT_EQ(u.unsqueeze(-1).shape(), (Shape{2, 1, 3, 4, 1}));
  EXPECT_EQ(u.squeeze(1).shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(u.squeeze(0).shape(), (Shape{2, 1, 3, 4}));  // extent 2: unchanged
  EXPECT_EQ(u.unsqueeze(0).squeeze().shape(), (Shape{2, 3, 4}));
  check_shared(u.squeeze());

  Tensor col = kiln::from_vector<float>({1, 2, 3}, {3, 1});
  Tensor e = col.expand({2, 3, 4});
  EXPECT_TRUE(e.shares_storage(col));
  EXPECT_EQ(e.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(e.strides(), (Shape{0, 1, 0}));
  EXPECT_EQ(values(e.select(0, 1).select(0, 2)), (std::vector<double>{3, 3, 3, 3}));
  EXPECT_EQ(col.expand({-1, 5}).shape(), (Shape{3, 5}));

  // contiguous(): itself when contiguous, a compact copy otherwise.
  EXPECT_TRUE(base.contiguous().same(base));
  Tensor c = p.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_FALSE(c.shares_storage(base));
  EXPECT_EQ(values(c), values(p));
  EXPECT_EQ(base.flatten().shape(), (Shape{24}));
  EXPECT_EQ(base.flatten(1).shape(), (Shape{2, 12}));

  // Writes through a view reach the base.
  base.select(0, 0).select(0, 0).fill_(-1);
  EXPECT_EQ(values(base.select(0, 0).select(0, 0)), (std::vector<double>{-1, -1, -1, -1}));
  s.fill_(100);
  EXPECT_EQ(values(base.select(0, 1).select(0, 0)), (std::vector<double>{12, 100, 14, 100}));
  // reshape of a non-viewable tensor copies.
  Tensor copy = p.reshape({24});
  EXPECT_FALSE(copy.shares_storage(base));
  EXPECT_EQ(values(copy)[0], -1);  // p[0][0][0] = base[0][0][0], written above
  EXPECT_EQ(values(copy)[1], 4);   // p[0][0][1] = base[0][1][0]
}

TEST(core_tensor, ViewErrors) {
  Tensor x = kiln::zeros({2, 3, 4});
  expect_error<kiln::ShapeError>([&] { x.view({5, 5}); }, {"view", "[2, 3, 4]", "[5, 5]"});
  expect_error<kiln::ShapeError>([&] { x.permute({0, 1, 2}).transpose(0, 2).view({24}); }, {"view", "reshape"});
  expect_error<kiln::ShapeError>([&] { x.reshape({-1, -1}); }, {"only one extent may be -1"});
  expect_error<kiln::ShapeError>([&] { x.reshape({7, -1}); }, {"reshape", "[2, 3, 4]"});
  expect_error<kiln::ShapeError>([&] { x.permute({0, 1}); }, {"permute", "[2, 3, 4]"});
  expect_error<kiln::ShapeError>([&] { x.permute({0, 0, 1}); }, {"permute", "repeated"});
  expect_error<kiln::IndexError>([&] { x.select(1, 3); }, {"index 3", "extent 3", "[2, 3, 4]"});
  expect_error<kiln::IndexError>([&] { x.narrow(2, 2, 3); }, {"narrow", "extent 4"});
  expect_error<kiln::IndexError>([&] { x.transpose(0, 3); }, {"transpose", "axis 3"});
  expect_error<kiln::ValueError>([&] { x.slice(0, 0, 2, 0); }, {"step"});
  expect_error<kiln::ShapeError>([&] { x.expand({2, 5, 4}); }, {"expand", "[2, 3, 4]", "[2, 5, 4]"});
  expect_error<kiln::ShapeError>([&] { x.expand({3, 4}); }, {"expand", "fewer"});
  expect_error<kiln::ShapeError>([&] { x.t(); }, {"t()", "[2, 3, 4]"});
  expect_error<kiln::ValueError>([&] { x.item<float>(); }, {"item", "[2, 3, 4]"});
  expect_error<kiln::ValueError>([&] { Tensor().shape(); }, {"undefined"});
}

TEST(core_tensor, Broadcasting) {
  Tensor a = kiln::from_vector<float>({1, 2, 3}, {3, 1});
  Tensor b = kiln::from_vector<float>({10, 20}, {2});
  Tensor c = a + b;
  EXPECT_EQ(c.shape(), (Shape{3, 2}));
  EXPECT_EQ(values(c), (std::vector<double>{11, 21, 12, 22, 13, 23}));
  Tensor s = kiln::scalar_tensor(2.0);
  EXPECT_EQ(values(a * s), (std::vector<double>{2, 4, 6}));
  EXPECT_EQ((kiln::zeros({4, 1, 5}) + kiln::zeros({3, 1})).shape(), (Shape{4, 3, 5}));
  EXPECT_EQ(kiln::broadcast_shapes({2, 1}, {1, 3}, "test"), (Shape{2, 3}));
  EXPECT_EQ(kiln::broadcast_shapes({0, 1}, {1, 3}, "test"), (Shape{0, 3}));
  expect_error<kiln::ShapeError>([&] { kiln::zeros({2, 3}) + kiln::zeros({4}); }, {"add", "[2, 3]", "[4]"});
  expect_error<kiln::ShapeError>([&] { kiln::mul(kiln::zeros({5, 2}), kiln::zeros({3, 1, 3})); },
                                 {"mul", "[5, 2]", "[3, 1, 3]"});
  expect_error<kiln::ShapeError>([&] { kiln::where(kiln::zeros({2}, {.dtype = kiln::kBool}), kiln::zeros({3}), kiln::zeros({1})); },
                                 {"where", "[2]", "[3]"});
}

TEST(core_tensor, ToDTypeAndDevice) {
  Tensor f = kiln::from_vector<float>({-1.7f, 0.0f, 2.9f});
  EXPECT_EQ(f.to(kiln::kInt32).to_vector<int32_t>(), (std::vector<int32_t>{-1, 0, 2}));  // truncates
  EXPECT_EQ(f.to(kiln::kBool).to_vector<int32_t>(), (std::vector<int32_t>{1, 0, 1}));
  EXPECT_TRUE(f.to(kiln::kFloat32).same(f));
  Tensor d = f.to(kiln::kFloat64);
  EXPECT_EQ(d.dtype(), kiln::kFloat64);
  EXPECT_NEAR(d.to_vector<double>()[0], -1.7, 1e-6);

  // Between host backends: one memory domain, so the data is shared, only the device changes.
  kiln::Device ref("ref");
  Tensor x = kiln::from_vector<float>({1, 2, 3}, {}, ref);
  EXPECT_EQ(x.device().backend_name(), "ref");
  for (const auto& info : kiln::backends()) {
    if (info.name == "ref" || info.devices.empty() || !info.devices[0].host_accessible) continue;
    Tensor y = x.to(kiln::Device(info.name));
    EXPECT_EQ(y.device().backend_name(), info.name);
    EXPECT_TRUE(y.shares_storage(x));
    EXPECT_EQ(values(y + y), (std::vector<double>{2, 4, 6}));
    EXPECT_EQ(y.to(ref).device(), ref);
  }
  EXPECT_TRUE(x.to(ref).same(x));
  EXPECT_EQ(kiln::Device("ref:0").str(), "ref:0");
  EXPECT_THROW(kiln::Device("ref:3"), kiln::DeviceError);
}

TEST(core_tensor, ItemAndToVector) {
  Tensor x = kiln::from_vector<int64_t>({5, -6, 7, 8}, {2, 2});
  EXPECT_EQ(x.select(0, 1).select(0, 0).item<int64_t>(), 7);
  EXPECT_EQ(x.t().to_vector<int64_t>(), (std::vector<int64_t>{5, 7, -6, 8}));
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{5, -6, 7, 8}));
  EXPECT_EQ(kiln::from_vector<uint8_t>({250, 3}).to_vector<int32_t>(), (std::vector<int32_t>{250, 3}));
  EXPECT_EQ(kiln::scalar_tensor(1, {.dtype = kiln::kBool}).item<bool>(), true);
  EXPECT_EQ(x.slice(1, 1, 2).to_vector<int32_t>(), (std::vector<int32_t>{-6, 8}));
}

TEST(core_tensor, CloneAndDetach) {
  Tensor x = kiln::from_vector<float>({1, 2, 3});
  Tensor c = x.clone();
  EXPECT_FALSE(c.shares_storage(x));
  c.fill_(0);
  EXPECT_EQ(values(x), (std::vector<double>{1, 2, 3}));
  Tensor g = kiln::from_vector<double>({1, 2}).set_requires_grad();
  Tensor y = g * 2.0;
  Tensor d = y.detach();
  EXPECT_TRUE(d.shares_storage(y));
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(y.requires_grad());
  EXPECT_TRUE(g.clone().requires_grad());
  // copy_ broadcasts and converts
  Tensor dst = kiln::zeros({2, 3}, {.dtype = kiln::kInt32});
  dst.copy_(kiln::from_vector<double>({1.9, 2.1, 3.5}));
  EXPECT_EQ(dst.to_vector<int32_t>(), (std::vector<int32_t>{1, 2, 3, 1, 2, 3}));
}

TEST(core_tensor, CatAndStack) {
  Tensor a = kiln::from_vector<float>({1, 2, 3, 4}, {2, 2});
  Tensor b = kiln::from_vector<float>({5, 6}, {1, 2});
  Tensor c = kiln::cat({a, b});
  EXPECT_EQ(c.shape(), (Shape{3, 2}));
  EXPECT_EQ(values(c), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  Tensor d = kiln::cat({a, a.t()}, 1);
  EXPECT_EQ(d.shape(), (Shape{2, 4}));
  EXPECT_EQ(values(d), (std::vector<double>{1, 2, 1, 3, 3, 4, 2, 4}));
  Tensor mixed = kiln::cat({a, kiln::from_vector<double>({7, 8}, {1, 2})});
  EXPECT_EQ(mixed.dtype(), kiln::kFloat64);
  Tensor s = kiln::stack({b.squeeze(0), b.squeeze(0) * 2.0}, 1);
  EXPECT_EQ(s.shape(), (Shape{2, 2}));
  EXPECT_EQ(values(s), (std::vector<double>{5, 10, 6, 12}));
  EXPECT_EQ(kiln::stack({a, a}).shape(), (Shape{2, 2, 2}));
  expect_error<kiln::ShapeError>([&] { kiln::cat({a, kiln::zeros({2, 3})}); }, {"cat", "[2, 3]", "[2, 2]"});
  expect_error<kiln::ShapeError>([&] { kiln::stack({a, b}); }, {"stack", "[1, 2]", "[2, 2]"});
  EXPECT_THROW(kiln::cat({}), kiln::ValueError);
}

}  // namespace
