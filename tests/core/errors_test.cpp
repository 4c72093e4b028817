// Errors: each mistake raises the right kiln::Error subtype, and the message names the op and the
// shapes, dtypes or devices involved.
#include <gtest/gtest.h>
#include <kiln/autograd.hpp>
#include <kiln/device.hpp>
#include <kiln/ops.hpp>
#include <kiln/tensor.hpp>

#include <string>

namespace {

using kiln::Tensor;

template <typename E, typename Fn>
void expect_error(Fn&& fn, std::initializer_list<const char*> fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected an exception";
  } catch (const E& e) {
    std::string msg = e.what();
    for (const char* f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

TEST(core_errors, HierarchyDerivesFromError) {
  EXPECT_THROW(throw kiln::ShapeError("x"), kiln::Error);
  EXPECT_THROW(throw kiln::BackendError("x"), kiln::Error);
  EXPECT_THROW(throw kiln::autograd::AnomalyError("x"), kiln::Error);
  EXPECT_THROW(KILN_CHECK(false, kiln::DTypeError, "expected ", 1, ", got ", 2), kiln::DTypeError);
  try {
    KILN_ASSERT(1 == 2, "detail");
  } catch (const kiln::InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("a bug in Kiln"), std::string::npos);
  }
}

TEST(core_errors, ShapeMismatches) {
  expect_error<kiln::ShapeError>([] { kiln::matmul(kiln::zeros({2, 3}), kiln::zeros({4, 5})); },
                                 {"matmul", "[2, 3]", "[4, 5]"});
  expect_error<kiln::ShapeError>([] { kiln::matmul(kiln::zeros({2, 2, 3}), kiln::zeros({3, 3, 4})); },
                                 {"matmul", "[2]", "[3]"});
  expect_error<kiln::ShapeError>([] { kiln::matmul(kiln::zeros({}), kiln::zeros({3})); }, {"matmul", "at least 1"});
  expect_error<kiln::ShapeError>([] { kiln::sub(kiln::zeros({3, 2}), kiln::zeros({3})); }, {"sub", "[3, 2]", "[3]"});
  expect_error<kiln::ShapeError>(
      [] { kiln::conv2d(kiln::zeros({1, 3, 8, 8}), kiln::zeros({4, 2, 3, 3})); }, {"conv2d", "[1, 3, 8, 8]", "[4, 2, 3, 3]"});
  expect_error<kiln::ShapeError>([] { kiln::conv2d(kiln::zeros({8, 8}), kiln::zeros({4, 1, 3, 3})); }, {"conv2d", "[8, 8]"});
  expect_error<kiln::ShapeError>([] { kiln::conv2d(kiln::zeros({1, 1, 2, 2}), kiln::zeros({1, 1, 3, 3})); },
                                 {"conv2d", "[1, 1, 2, 2]", "too small"});
  expect_error<kiln::ShapeError>([] { kiln::max_pool2d(kiln::zeros({4, 4}), {}); }, {"max_pool2d", "[4, 4]"});
  expect_error<kiln::ShapeError>([] { kiln::index_select(kiln::zeros({3, 3}), 0, kiln::zeros({2, 2}, {.dtype = kiln::kInt64})); },
                                 {"index_select", "[2, 2]"});
  expect_error<kiln::ShapeError>([] { kiln::gather(kiln::zeros({3, 3}), 0, kiln::zeros({3}, {.dtype = kiln::kInt64})); },
                                 {"gather", "[3]", "[3, 3]"});
  expect_error<kiln::ShapeError>([] { kiln::embedding(kiln::zeros({5}), kiln::zeros({2}, {.dtype = kiln::kInt64})); },
                                 {"embedding", "[5]"});
  expect_error<kiln::ShapeError>([] { kiln::cat({kiln::zeros({2, 3}), kiln::zeros({2})}); }, {"cat", "[2]", "[2, 3]"});
  expect_error<kiln::ShapeError>([] { kiln::conv2d(kiln::zeros({1, 2, 4, 4}), kiln::zeros({3, 2, 1, 1}), kiln::zeros({2})); },
                                 {"conv2d", "bias", "[2]"});
}

TEST(core_errors, DTypeMismatches) {
  expect_error<kiln::DTypeError>(
      [] { kiln::conv2d(kiln::zeros({1, 1, 4, 4}), kiln::zeros({1, 1, 3, 3}, {.dtype = kiln::kFloat64})); },
      {"conv2d", "float32", "float64"});
  expect_error<kiln::DTypeError>([] { kiln::mean(kiln::arange(4)); }, {"mean", "int64", "[4]"});
  expect_error<kiln::DTypeError>([] { kiln::var(kiln::arange(4)); }, {"var", "int64"});
  expect_error<kiln::DTypeError>([] { kiln::avg_pool2d(kiln::zeros({1, 1, 4, 4}, {.dtype = kiln::kInt32}), {}); },
                                 {"avg_pool2d", "int32"});
  expect_error<kiln::DTypeError>([] { kiln::gather(kiln::zeros({3}), 0, kiln::zeros({2})); }, {"gather", "float32"});
  expect_error<kiln::DTypeError>([] { kiln::arange(3).set_requires_grad(); }, {"requires_grad", "int64"});
  expect_error<kiln::DTypeError>([] { kiln::dtype_from_name("float8"); }, {"float8", "float32", "bfloat16"});
  EXPECT_EQ(kiln::dtype_from_name("bfloat16"), kiln::kBFloat16);
  EXPECT_EQ(kiln::dtype_from_name("float16"), kiln::kFloat16);
}

TEST(core_errors, AxesOutOfRange) {
  expect_error<kiln::IndexError>([] { kiln::sum(kiln::zeros({2, 3}), {2}); }, {"sum", "axis 2", "2 dimension"});
  expect_error<kiln::IndexError>([] { kiln::mean(kiln::zeros({2, 3}), {-3}); }, {"mean", "axis -3"});
  expect_error<kiln::IndexError>([] { kiln::softmax(kiln::zeros({2, 3}), 5); }, {"softmax", "axis 5"});
  expect_error<kiln::IndexError>([] { kiln::argmax(kiln::zeros({2, 3}), 2); }, {"argmax", "axis 2"});
  expect_error<kiln::IndexError>([] { kiln::cat({kiln::zeros({2})}, 1); }, {"cat", "axis 1"});
  expect_error<kiln::IndexError>([] { kiln::zeros({2, 3}).unsqueeze(4); }, {"unsqueeze", "axis 4"});
  expect_error<kiln::IndexError>([] { kiln::zeros({2, 3}).size(2); }, {"size", "axis 2"});
  expect_error<kiln::ValueError>([] { kiln::sum(kiln::zeros({2, 3}), {1, -1}); }, {"sum", "twice"});
}

TEST(core_errors, IndicesOutOfRange) {
  Tensor x = kiln::zeros({3, 5});
  expect_error<kiln::IndexError>([&] { x.select(0, 3); }, {"index 3", "[3, 5]"});
  expect_error<kiln::IndexError>([&] { x[-4]; }, {"index -4"});
  // Index tensors are checked by the backend (KILN_STATUS_INDEX_OUT_OF_RANGE): IndexError naming
  // the op, dtypes, backend, the bad value, its position in the index tensor and the valid range.
  Tensor bad = kiln::from_vector<int64_t>({0, 5}, {1, 2});
  expect_error<kiln::IndexError>([&] { kiln::gather(x, 1, bad); },
                                 {"gather", "int64", "backend", "index 5", "position", "[0, 5)"});
  expect_error<kiln::IndexError>([&] { kiln::index_select(x, 0, kiln::from_vector<int64_t>({3})); },
                                 {"index_select", "index 3", "[0, 3)"});
  expect_error<kiln::IndexError>([&] { kiln::index_select(x, 0, kiln::from_vector<int64_t>({-1})); },
                                 {"index_select", "index -1"});
  expect_error<kiln::IndexError>([&] { kiln::embedding(x, kiln::from_vector<int64_t>({1, 3})); },
                                 {"embedding", "index 3", "position", "[0, 3)"});
  expect_error<kiln::IndexError>(
      [&] { kiln::scatter_add(x, 0, kiln::from_vector<int64_t>({7}, {1, 1}), kiln::ones({1, 1})); },
      {"scatter_add", "index 7", "[0, 3)"});
  // Still an Error: code catching kiln::Error keeps catching it.
  EXPECT_THROW(kiln::gather(x, 1, bad), kiln::Error);
}

TEST(core_errors, ValuesAndEmptyReductions) {
  expect_error<kiln::ValueError>([] { kiln::amax(kiln::zeros({0, 3})); }, {"amax", "[0, 3]"});
  expect_error<kiln::ValueError>([] { kiln::argmin(kiln::zeros({0})); }, {"argmin", "empty"});
  expect_error<kiln::ValueError>([] { kiln::clamp(kiln::zeros({2}), 1.0, 0.0); }, {"clamp", "min 1", "max 0"});
  expect_error<kiln::ValueError>([] { kiln::one_hot(kiln::arange(3), 0); }, {"one_hot", "num_classes"});
  expect_error<kiln::ValueError>([] { kiln::conv2d(kiln::zeros({1, 1, 4, 4}), kiln::zeros({1, 1, 1, 1}), Tensor(), {.stride = {0, 1}}); },
                                 {"conv2d", "stride"});
  expect_error<kiln::ValueError>([] { kiln::max_pool2d(kiln::zeros({1, 1, 4, 4}), {.kernel = {2, 2}, .padding = {2, 2}}); },
                                 {"max_pool2d", "padding 2"});
  expect_error<kiln::ValueError>([] { kiln::add(Tensor(), kiln::zeros({1})); }, {"add", "undefined"});
}

TEST(core_errors, Devices) {
  expect_error<kiln::DeviceError>([] { kiln::Device("nope"); }, {"nope", "available"});
  expect_error<kiln::DeviceError>([] { kiln::Device("ref:x"); }, {"ref:x", "index"});
  expect_error<kiln::DeviceError>([] { kiln::Device("ref:2"); }, {"ref:2", "1 device"});
  // Mixing devices needs a device that is not host memory (host backends share one domain).
  for (const auto& info : kiln::backends()) {
    if (info.devices.empty() || info.devices[0].host_accessible) continue;
    Tensor gpu = kiln::zeros({2}, {.device = kiln::Device(info.name)});
    Tensor cpu = kiln::zeros({2}, {.device = kiln::Device("ref")});
    expect_error<kiln::DeviceError>([&] { kiln::add(cpu, gpu); }, {"add", "ref:0", (info.name + ":0").c_str()});
    expect_error<kiln::DeviceError>([&] { kiln::matmul(gpu.reshape({1, 2}), cpu.reshape({2, 1})); }, {"matmul"});
    return;
  }
  GTEST_SKIP() << "no device backend loaded: device-mismatch errors need one";
}

}  // namespace
