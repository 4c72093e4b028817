// Private: the conformance suite's case model and the helpers the per-kind case generators share.
//
// Every tensor a generator builds lives on the reference backend's device and is made without
// running any op (values are written as bytes; views are metadata), so building a case never
// depends on the backend under test. The runner copies each case's storage to both backends.
#pragma once

#include <kiln/conformance.hpp>
#include <kiln/tensor.hpp>
#include <kiln/plugin/op_info.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dispatch/dispatch.hpp"

namespace kiln::conformance {

// The kind column of ops.def (op_info.h).
using Kind = kiln_op_kind;
inline Kind op_kind(kiln_op op) { return kiln_op_info(op)->kind; }

struct Case {
  std::string name;
  std::string dtype;  // label: "float32", "int32->float64"
  std::vector<Tensor> inputs;
  // Shape, dtype, layout and initial contents of each output (contiguous, except for COPY/FILL).
  std::vector<Tensor> outputs;
  std::shared_ptr<const void> attrs;  // null when the op has no attributes
  double rtol = 0, atol = 0;          // 0, 0: exact
  bool expect_error = false;          // an invalid case: both backends must refuse it
  bool compare_storage = false;       // compare each output's whole buffer (strided COPY/FILL dst)
};

// Scalar attribute structs (a, b), with their struct_size set.
inline std::vector<kiln_scalar_attrs> scalar_attrs(std::initializer_list<std::pair<double, double>> values) {
  std::vector<kiln_scalar_attrs> out;
  for (const auto& [a, b] : values) out.push_back(kiln_scalar_attrs{KILN_ATTRS_HEAD(kiln_scalar_attrs), a, b});
  return out;
}

template <typename A>
std::shared_ptr<const void> make_attrs(const A& a) {
  return std::make_shared<const A>(a);
}

// SplitMix64: a small deterministic generator for input values.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * (static_cast<double>(next() >> 11) * 0x1.0p-53); }
  int64_t integer(int64_t lo, int64_t hi) {  // [lo, hi]
    return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1));
  }

 private:
  uint64_t state_;
};

// What values a generated tensor holds.
enum class Domain {
  General,   // floats in [-2, 2]; ints in [-5, 5]; uint8 in [0, 9]; bool 0/1
  Positive,  // floats in [0.5, 2.5]; ints in [1, 5]
  NonZero,   // floats +-[0.5, 2]; ints +-[1, 5]; uint8 [1, 9]
  SmallInt,  // integral values in [-2, 2] (uint8 [0, 3]) so comparisons and max/argmax see ties
  Unit,      // floats in [0, 1); ints 0/1
  Wide,      // floats in [-100, 100] with fractions; ints in [-100, 100]; uint8 [0, 200]
  NearOne,   // floats in [0.5, 1.5]; ints in [-1, 1]; uint8 [1, 3] (long products stay finite)
};

// How a tensor of a given logical shape is laid out in memory.
enum class Layout {
  Contiguous,
  Transposed,  // the last two axes swapped in memory
  Permuted,    // all axes reversed in memory
  Stepped,     // every axis sliced with step 2 starting at 1 (non-zero offset)
  Offset,      // contiguous, starting 5 elements into a larger buffer
  Broadcast,   // every other axis has stride 0 (an expanded extent-1 axis); inputs only
};
const char* layout_name(Layout layout);

// Context every generator receives.
struct Context {
  Device device;  // the reference backend's device
  uint64_t seed = 0;
};

// A contiguous tensor of values from a host vector of doubles, converted to dtype.
Tensor host_tensor(const Context& ctx, const Shape& shape, DType dtype, const std::vector<double>& values);
// A contiguous tensor filled with one value (used for outputs, so both backends start alike).
Tensor host_full(const Context& ctx, const Shape& shape, DType dtype, double value);
// Random values of the domain in the layout; the logical shape is `shape`.
Tensor make_input(const Context& ctx, Rng& rng, const Shape& shape, DType dtype, Domain domain,
                  Layout layout = Layout::Contiguous);
std::vector<double> random_values(Rng& rng, int64_t n, DType dtype, Domain domain);
// An output: contiguous, pre-filled with a sentinel (a value no correct kernel leaves behind).
Tensor make_output(const Context& ctx, const Shape& shape, DType dtype);

std::string shape_label(const Shape& s);
// Sets the case's tolerance for dtype with `terms` accumulated per output element.
void set_tolerance(Case& c, DType dtype, int64_t terms = 1);

// Case generators, one per family of kinds. `dtype` is the op's main dtype (op_signature's).
std::vector<Case> pointwise_cases(kiln_op op, Kind kind, DType dtype, const Context& ctx, Rng& rng);
std::vector<Case> data_cases(kiln_op op, Kind kind, DType dtype, const Context& ctx, Rng& rng);
std::vector<Case> reduce_cases(kiln_op op, Kind kind, DType dtype, const Context& ctx, Rng& rng);
std::vector<Case> linalg_cases(kiln_op op, Kind kind, DType dtype, const Context& ctx, Rng& rng);
std::vector<Case> index_cases(kiln_op op, Kind kind, DType dtype, const Context& ctx, Rng& rng);

// Runs one op on the reference backend right now (generators use it to build realistic inputs,
// e.g. max-pool indices for maxpool2d_backward).
void run_on_reference(const Context& ctx, kiln_op op, const std::vector<Tensor>& inputs,
                      const std::vector<Tensor>& outputs, const void* attrs);

}  // namespace kiln::conformance
