// The op conformance suite against every loaded backend, and checks that the harness itself
// compares (it must catch a wrong result, a wrong shape, a missing error).
#include "../support/backend_status.hpp"

#include <gtest/gtest.h>
#include <kiln/conformance.hpp>
#include <kiln/device.hpp>
#include <kiln/ops.hpp>
#include <kiln/random.hpp>
#include <kiln/tensor.hpp>

#include <cmath>
#include <iostream>
#include <limits>
#include <set>
#include <string>
#include <vector>

namespace {

using kiln::ConformanceResult;

struct Counts {
  int passed = 0, failed = 0, skipped = 0;
};

Counts count(const std::vector<ConformanceResult>& results) {
  Counts c;
  for (const auto& r : results) {
    if (r.skipped) ++c.skipped;
    else if (r.passed) ++c.passed;
    else ++c.failed;
  }
  return c;
}

const kiln::BackendInfo* loaded(const std::vector<kiln::BackendInfo>& infos, const std::string& name) {
  for (const auto& b : infos)
    if (b.name == name) return &b;
  return nullptr;
}

kiln::Device ref_device() { return kiln::Device("ref"); }

class ConformanceTest : public ::testing::TestWithParam<std::string> {};

// ref against itself is the sanity check: every op must run and every invalid case must fail.
TEST_P(ConformanceTest, MatchesReference) {
  const std::string name = GetParam();
  if (std::string why = kiln_test::why_backend_unusable(name); !why.empty()) GTEST_SKIP() << why;
  const auto infos = kiln::backends();
  const kiln::BackendInfo* info = loaded(infos, name);
  ASSERT_NE(info, nullptr);
  ASSERT_NE(loaded(infos, "ref"), nullptr) << "the reference backend is not loaded";

  const auto results = kiln::run_conformance({.backend = name});
  const Counts c = count(results);
  std::cout << "[conformance] backend '" << name << "': " << results.size() << " cases, " << c.passed << " passed, "
            << c.failed << " failed, " << c.skipped << " skipped\n";
  EXPECT_EQ(c.failed, 0) << kiln::format_conformance_table(results);
  // Every op the backend claims is exercised; full backends claim (nearly) the whole catalogue,
  // blas only matmul and convolution (the rest falls back to tbb).
  EXPECT_GT(c.passed, static_cast<int>(info->supported_ops.size()));
  if (name != "blas") {
    EXPECT_GT(c.passed, 500);
  }

  // Every op of the catalogue appears (generated from ops.def, not a hand-written list).
  std::set<std::string> ops;
  for (const auto& r : results) ops.insert(r.op);
  EXPECT_EQ(static_cast<int>(ops.size()), static_cast<int>(KILN_OP_COUNT));
  if (name == "ref") {
    // The oracle supports every op, so nothing may be skipped as a whole.
    for (const auto& r : results) EXPECT_FALSE(r.skipped && r.dtype == "-") << r.op << ": " << r.message;
  }
}

INSTANTIATE_TEST_SUITE_P(core, ConformanceTest, ::testing::Values("ref", "tbb", "blas", "cuda"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// ---- float16 and bfloat16 (ref computes them through float32) ----

// The suite builds and runs half cases for every op the catalogue defines for floats, on ref.
TEST(core_conformance, HalfDtypesRunOnRef) {
  const auto results = kiln::run_conformance({.backend = "ref", .ops = {"add", "exp", "sum", "matmul", "conv2d",
                                                                        "softmax", "gather", "cast", "maxpool2d"}});
  std::set<std::string> half_ops;
  for (const auto& r : results) {
    if (r.dtype != "float16" && r.dtype != "bfloat16") continue;
    EXPECT_TRUE(r.passed || r.skipped) << r.op << " " << r.dtype << " " << r.case_name << ": " << r.message;
    if (r.passed) half_ops.insert(r.op + "/" + r.dtype);
  }
  for (const char* op : {"add", "exp", "sum", "matmul", "conv2d", "softmax", "gather", "maxpool2d"})
    for (const char* dt : {"float16", "bfloat16"})
      EXPECT_TRUE(half_ops.count(std::string(op) + "/" + dt)) << op << " has no passing " << dt << " case";
}

// Half results agree with float32 on the same (half-representable) inputs within the half
// tolerances, so a backend that rounds every step still passes against ref.
TEST(core_conformance, HalfResultsMatchFloat32WithinHalfTolerances) {
  kiln::Generator gen(7);
  const kiln::Tensor x32 = kiln::randn({4, 33}, {.device = ref_device()}, &gen);
  const kiln::Tensor w32 = kiln::randn({33, 5}, {.device = ref_device()}, &gen);
  for (kiln::DType half : {kiln::kFloat16, kiln::kBFloat16}) {
    SCOPED_TRACE(std::string(kiln::dtype_name(half)));
    const kiln::Tensor x = x32.to(half), w = w32.to(half);
    EXPECT_EQ(x.dtype(), half);
    const kiln::Tensor xf = x.to(kiln::kFloat32), wf = w.to(kiln::kFloat32);  // the rounded inputs
    auto check = [&](const kiln::Tensor& got, const kiln::Tensor& want, int64_t terms, const char* what) {
      const kiln::ConformanceTolerance t = kiln::conformance_tolerance(half, terms);
      auto cmp = kiln::compare_conformance_outputs(got.to(kiln::kFloat32), want, t.rtol, t.atol);
      EXPECT_TRUE(cmp.passed) << what << ": " << cmp.message;
    };
    check(kiln::add(x, x), kiln::add(xf, xf).to(half).to(kiln::kFloat32), 1, "add");
    check(kiln::exp(x), kiln::exp(xf), 1, "exp");
    check(kiln::sum(x, {1}), kiln::sum(xf, {1}), 33, "sum");
    check(kiln::matmul(x, w), kiln::matmul(xf, wf), 33, "matmul");
    check(kiln::softmax(x, 1), kiln::softmax(xf, 1), 33, "softmax");
  }
  // Conversions round to nearest even: 1 + 2^-11 is a tie in float16 and goes to 1.
  const kiln::Tensor tie = kiln::from_vector<float>({1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048}, {2}, ref_device());
  EXPECT_EQ(tie.to(kiln::kFloat16).to_vector<float>(), (std::vector<float>{1.0f, 1.0f + 2.0f / 1024}));
}

// ---- the harness can fail ----

TEST(core_conformance, ComparisonCatchesAWrongResult) {
  // Run a real op on the reference, then corrupt one element of its result.
  kiln::Tensor a = kiln::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}, ref_device());
  kiln::Tensor b = kiln::from_vector<float>({0.5f, 0.25f, 2, -1, 0, 3}, {2, 3}, ref_device());
  kiln::Tensor expected = kiln::add(a, b);
  std::vector<float> wrong = expected.to_vector<float>();
  wrong[4] += 0.01f;
  kiln::Tensor actual = kiln::from_vector<float>(wrong, {2, 3}, ref_device());
  auto cmp = kiln::compare_conformance_outputs(actual, expected, 1e-4, 1e-5);
  EXPECT_FALSE(cmp.passed);
  EXPECT_NE(cmp.message.find("element 4"), std::string::npos) << cmp.message;
  EXPECT_NEAR(cmp.max_error, 0.01, 1e-6);
  // The right result passes, and so does one within tolerance.
  EXPECT_TRUE(kiln::compare_conformance_outputs(expected.clone(), expected, 1e-4, 1e-5).passed);
  std::vector<float> close = expected.to_vector<float>();
  close[0] *= 1.00001f;
  EXPECT_TRUE(kiln::compare_conformance_outputs(kiln::from_vector<float>(close, {2, 3}, ref_device()), expected, 1e-4,
                                                1e-5)
                  .passed);
}

TEST(core_conformance, ExactComparisonForIntegers) {
  auto x = kiln::from_vector<int32_t>({1, 2, 3}, {}, ref_device());
  auto y = kiln::from_vector<int32_t>({1, 2, 4}, {}, ref_device());
  EXPECT_TRUE(kiln::compare_conformance_outputs(x, x, 0, 0).passed);
  EXPECT_FALSE(kiln::compare_conformance_outputs(y, x, 0, 0).passed);
  // Tolerances are exact for integers and bool, scaled for long float reductions.
  EXPECT_EQ(kiln::conformance_tolerance(kiln::kInt64).atol, 0);
  EXPECT_EQ(kiln::conformance_tolerance(kiln::kBool).rtol, 0);
  EXPECT_GT(kiln::conformance_tolerance(kiln::kFloat32, 1000).atol, kiln::conformance_tolerance(kiln::kFloat32).atol);
  EXPECT_LT(kiln::conformance_tolerance(kiln::kFloat64).rtol, 1e-9);
}

TEST(core_conformance, ComparisonChecksShapeDtypeAndSpecialValues) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  auto e = kiln::from_vector<double>({nan, inf, 1}, {}, ref_device());
  EXPECT_TRUE(kiln::compare_conformance_outputs(kiln::from_vector<double>({nan, inf, 1}, {}, ref_device()), e, 0, 0).passed);
  EXPECT_FALSE(kiln::compare_conformance_outputs(kiln::from_vector<double>({1, inf, 1}, {}, ref_device()), e, 1, 1).passed);
  EXPECT_FALSE(kiln::compare_conformance_outputs(kiln::from_vector<double>({nan, -inf, 1}, {}, ref_device()), e, 1, 1).passed);
  auto shaped = kiln::from_vector<double>({nan, inf, 1}, {3, 1}, ref_device());
  EXPECT_FALSE(kiln::compare_conformance_outputs(shaped, e, 1, 1).passed);
  auto as_float = kiln::from_vector<float>({0, 0, 1}, {}, ref_device());
  auto cmp = kiln::compare_conformance_outputs(as_float, kiln::from_vector<double>({0, 0, 1}, {}, ref_device()), 1, 1);
  EXPECT_FALSE(cmp.passed);
  EXPECT_NE(cmp.message.find("dtype"), std::string::npos);
}

TEST(core_conformance, ComparisonReadsViewsInLogicalOrder) {
  auto base = kiln::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}, ref_device());
  auto transposed = base.t();  // [[1, 4], [2, 5], [3, 6]]
  auto expected = kiln::from_vector<float>({1, 4, 2, 5, 3, 6}, {3, 2}, ref_device());
  EXPECT_TRUE(kiln::compare_conformance_outputs(transposed, expected, 0, 0).passed);
  EXPECT_FALSE(kiln::compare_conformance_outputs(base.reshape({3, 2}), expected, 0, 0).passed);
}

TEST(core_conformance, SelectedOpsOnlyAndErrorCasesAreCounted) {
  auto results = kiln::run_conformance({.backend = "ref", .ops = {"gather", "max"}});
  ASSERT_FALSE(results.empty());
  int error_cases = 0;
  for (const auto& r : results) {
    EXPECT_TRUE(r.op == "gather" || r.op == "max") << r.op;
    EXPECT_TRUE(r.passed) << r.op << " " << r.dtype << " " << r.case_name << ": " << r.message;
    if (r.case_name.find("out_of_range") != std::string::npos || r.case_name.find("negative") != std::string::npos)
      ++error_cases;
  }
  EXPECT_GT(error_cases, 0);
  EXPECT_THROW(kiln::run_conformance({.backend = "ref", .ops = {"no_such_op"}}), kiln::ValueError);
  EXPECT_THROW(kiln::run_conformance({.backend = "no_such_backend"}), kiln::BackendError);
}

TEST(core_conformance, TableAndJson) {
  std::vector<ConformanceResult> results = {
      {"add", "float32", "contiguous[7]", true, false, "", 0.0},
      {"add", "float32", "scalar[]", false, false, "element 0: got \"1\"\nexpected 2", 1.0},
      {"matmul", "-", "-", false, true, "not supported", 0.0},
  };
  const std::string table = kiln::format_conformance_table(results);
  EXPECT_NE(table.find("FAIL"), std::string::npos) << table;
  EXPECT_NE(table.find("SKIP"), std::string::npos) << table;
  EXPECT_NE(table.find("1 passed, 1 failed, 1 skipped"), std::string::npos) << table;
  const std::string json = kiln::conformance_json(results);
  EXPECT_NE(json.find("\"summary\": {\"passed\": 1, \"failed\": 1, \"skipped\": 1}"), std::string::npos) << json;
  EXPECT_NE(json.find("got \\\"1\\\"\\nexpected 2"), std::string::npos) << json;
  EXPECT_NE(json.find("\"op\": \"matmul\""), std::string::npos) << json;
  EXPECT_EQ(kiln::conformance_json({}).find("\"results\": []"), kiln::conformance_json({}).find("\"results\""));
}

}  // namespace
