// The op conformance suite: runs every catalogue op (ops.def) on one backend and on the reference
// backend "ref" with identical inputs, and compares the outputs with per-dtype tolerances.
//
// Cases are generated per op kind (the kind column of ops.def) over odd shapes, 0-d scalars,
// broadcast (stride-0) inputs, transposed/permuted/stepped views, non-zero offsets and empty
// tensors, with valid attribute variants. Error behaviour is compared too: where a case is invalid
// (an out-of-range index, an empty max reduction) both backends must refuse it.
//
// Used by tests/core/conformance_test.cpp and by the `kiln-conformance PLUGIN.so` tool.
#pragma once

#include <kiln/tensor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

struct ConformanceOptions {
  std::string backend;            // the backend under test, by name ("tbb", "cuda", ...); "ref" checks the oracle
  std::vector<std::string> ops;   // op names from ops.def ("add", "conv2d"); empty = every op
  uint64_t seed = 0;              // mixed into the generated input values
  bool verbose = false;           // print one line per case to stderr while running
};

struct ConformanceResult {
  std::string op;         // ops.def name
  std::string dtype;      // "float32"; "int32->float64" for cast; "-" when the op is skipped as a whole
  std::string case_name;  // "transposed[3,5]", "stride2_pad1", ...
  bool passed = false;
  bool skipped = false;   // the backend (or ref) does not support this op/dtype/attrs
  std::string message;    // why it failed or was skipped
  double max_error = 0;   // largest |actual - expected| over the compared elements
};

// Runs the suite. Throws BackendError when the backend or "ref" is not loaded, DeviceError when
// the backend has no device (the message carries the backend's status note).
std::vector<ConformanceResult> run_conformance(const ConformanceOptions& options);

// The outcome of comparing one output.
struct ConformanceComparison {
  bool passed = false;
  double max_error = 0;
  std::string message;  // the first mismatching element, or a shape/dtype mismatch
};

// Compares actual with expected element by element (any device, any layout): shapes and dtypes
// must match; NaNs match NaNs, infinities match same-signed infinities; otherwise
// |actual - expected| <= atol + rtol * |expected|. rtol = atol = 0 means bit-exact (as doubles).
ConformanceComparison compare_conformance_outputs(const Tensor& actual, const Tensor& expected, double rtol,
                                                  double atol);

struct ConformanceTolerance {
  double rtol = 0;
  double atol = 0;
};
// The tolerance the suite uses for a dtype when each output element accumulates `terms` products
// or summands (1 for pointwise ops): exact for integers and bool; float32 rtol 1e-4 / atol 1e-5 and
// float64 rtol 1e-10 / atol 1e-12, both scaled up with sqrt(terms).
ConformanceTolerance conformance_tolerance(DType dtype, int64_t terms = 1);

// A table with one line per op and dtype ("add  float32  12/12  PASS"), then every failure.
std::string format_conformance_table(const std::vector<ConformanceResult>& results);
// {"summary": {"passed": n, "failed": n, "skipped": n}, "results": [{"op": ..., ...}, ...]}
std::string conformance_json(const std::vector<ConformanceResult>& results);

}  // namespace kiln
