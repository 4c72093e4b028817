// Shared helpers of the tbb backend: dtype dispatch, the conversion rule, wrapping integer
// arithmetic, parallel loops and the strided-layout engine used by every op family.
#ifndef KILN_BACKENDS_TBB_COMMON_HPP
#define KILN_BACKENDS_TBB_COMMON_HPP

#include <kiln/plugin/host_backend.hpp>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

// Hot loops are compiled three times and picked at load time from what the CPU reports
// (GCC function multi-versioning through an ifunc; no -march flag, the .so runs on any x86-64).
// The clones name x86-64 ISA levels (v4 = AVX-512 F/BW/DQ/VL, v3 = AVX2+FMA), which the resolver
// tests by feature bits; "arch=skylake-avx512" would be tested by CPU model and miss Cascade Lake.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(KILN_TBB_NO_CLONES)
#define KILN_TBB_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KILN_TBB_CLONES
#endif

// Helpers called inside multi-versioned loops: GCC does not inline a default-ISA function into an
// arch-specific clone unless told to, and an out-of-line call there stops vectorization.
#define KILN_TBB_INLINE inline __attribute__((always_inline))

namespace kiln::tbbk {

using plugin::fail;

// Storage of KILN_DTYPE_BOOL: one byte, 0 or 1; a distinct type so templates tell it from uint8.
struct Bool8 {
  uint8_t v;
};

template <class T>
inline constexpr bool is_float_v = std::is_floating_point_v<T>;
template <class T>
inline constexpr bool is_int_v = std::is_integral_v<T>;

inline bool is_float_dtype(int32_t t) { return t == KILN_DTYPE_FLOAT32 || t == KILN_DTYPE_FLOAT64; }
inline bool is_int_dtype(int32_t t) {
  return t == KILN_DTYPE_INT32 || t == KILN_DTYPE_INT64 || t == KILN_DTYPE_UINT8;
}
inline bool is_numeric_dtype(int32_t t) { return is_float_dtype(t) || is_int_dtype(t); }
inline bool is_valid_dtype(int32_t t) { return t >= 0 && t < KILN_DTYPE_COUNT; }

inline const char* op_name(kiln_op op) { return kiln_op_name(op); }

[[noreturn]] inline void unexpected_dtype(int32_t dtype) {
  fail(KILN_STATUS_INTERNAL, "tbb: unexpected dtype ", dtype, " (supports() should have refused it)");
}
template <class Fn>
void dispatch_float(int32_t dtype, Fn&& fn) {
  switch (dtype) {
    case KILN_DTYPE_FLOAT32: fn(float{}); return;
    case KILN_DTYPE_FLOAT64: fn(double{}); return;
    default: unexpected_dtype(dtype);
  }
}
template <class Fn>
void dispatch_numeric(int32_t dtype, Fn&& fn) {
  switch (dtype) {
    case KILN_DTYPE_INT32: fn(int32_t{}); return;
    case KILN_DTYPE_INT64: fn(int64_t{}); return;
    case KILN_DTYPE_UINT8: fn(uint8_t{}); return;
    default: dispatch_float(dtype, fn);
  }
}
template <class Fn>
void dispatch_all(int32_t dtype, Fn&& fn) {
  if (dtype == KILN_DTYPE_BOOL) {
    fn(Bool8{});
  } else {
    dispatch_numeric(dtype, fn);
  }
}

// ---- the conversion rule (CAST, FILL, integer scalars, random outputs) ----
KILN_TBB_INLINE float narrow_to_float(double v) {
  constexpr double kMax = std::numeric_limits<float>::max();
  constexpr double kRoundsToInf = 0x1.ffffffp+127;
  constexpr float kInf = std::numeric_limits<float>::infinity();
  if (v > kMax) return v >= kRoundsToInf ? kInf : std::numeric_limits<float>::max();
  if (v < -kMax) return v <= -kRoundsToInf ? -kInf : -std::numeric_limits<float>::max();
  return static_cast<float>(v);
}
template <class I>
KILN_TBB_INLINE I saturate(double v) {
  using L = std::numeric_limits<I>;
  if (v != v) return 0;
  if (v >= static_cast<double>(L::max()) + 1.0) return L::max();
  if (v <= static_cast<double>(L::min()) - 1.0) return L::min();
  return static_cast<I>(v);
}
inline bool truthy(Bool8 v) { return v.v != 0; }
template <class T>
inline bool truthy(T v) {
  return v != 0;
}
// -> bool is != 0; bool -> x is 0/1; float -> int clamps then truncates (NaN -> 0); int -> int wraps.
template <class To, class From>
KILN_TBB_INLINE To convert(From v) {
  if constexpr (std::is_same_v<To, Bool8>) {
    return Bool8{static_cast<uint8_t>(truthy(v) ? 1 : 0)};
  } else if constexpr (std::is_same_v<From, Bool8>) {
    return static_cast<To>(v.v != 0 ? 1 : 0);
  } else if constexpr (is_int_v<To> && is_float_v<From>) {
    return saturate<To>(static_cast<double>(v));
  } else if constexpr (std::is_same_v<To, float> && std::is_same_v<From, double>) {
    return narrow_to_float(v);
  } else {
    return static_cast<To>(v);
  }
}

// ---- wrapping integer arithmetic ----
template <class T>
using wide_unsigned_t =
    std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;
template <class T>
KILN_TBB_INLINE T wrap_add(T a, T b) {
  if constexpr (is_float_v<T>) return a + b;
  else return static_cast<T>(static_cast<wide_unsigned_t<T>>(a) + static_cast<wide_unsigned_t<T>>(b));
}
template <class T>
KILN_TBB_INLINE T wrap_sub(T a, T b) {
  if constexpr (is_float_v<T>) return a - b;
  else return static_cast<T>(static_cast<wide_unsigned_t<T>>(a) - static_cast<wide_unsigned_t<T>>(b));
}
template <class T>
KILN_TBB_INLINE T wrap_mul(T a, T b) {
  if constexpr (is_float_v<T>) return a * b;
  else return static_cast<T>(static_cast<wide_unsigned_t<T>>(a) * static_cast<wide_unsigned_t<T>>(b));
}

// Floats accumulate in double; integers in their own type, wrapping.
template <class T>
using acc_t = std::conditional_t<is_float_v<T>, double, T>;

// ---- parallel loops ----
// Work below `grain` elements runs inline on the calling thread: no task is spawned at all.
template <class Fn>
inline void parallel_range(int64_t n, int64_t grain, Fn&& fn) {
  if (n <= 0) return;
  if (n <= grain) {
    fn(int64_t{0}, n);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, grain),
                    [&](const tbb::blocked_range<int64_t>& r) { fn(r.begin(), r.end()); });
}
// Same, but the split points depend only on n and chunk (not on the thread count), so a loop whose
// chunks produce partial results combines them in a fixed order: same numbers on every run.
template <class Fn>
inline void parallel_chunks(int64_t num_chunks, Fn&& fn) {
  if (num_chunks <= 1) {
    if (num_chunks == 1) fn(int64_t{0});
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, num_chunks, 1),
                    [&](const tbb::blocked_range<int64_t>& r) {
                      for (int64_t c = r.begin(); c < r.end(); ++c) fn(c);
                    },
                    tbb::simple_partitioner());
}

int num_threads();  // what tbb may use (KILN_NUM_THREADS or the hardware)

// The widest vector ISA this CPU has, from its feature bits (AVX-512F > AVX2+FMA > portable), for
// kernels written with intrinsics (GEMM, max pool); KILN_TBB_ISA=avx2|generic forces a lower one
// (tests run the same cases under each). Read once.
enum class Isa { generic, avx2, avx512 };
Isa cpu_isa();

// ---- descriptors ----
inline int64_t numel(const kiln_tensor_desc& d) { return kiln_desc_numel(&d); }
inline bool is_contiguous(const kiln_tensor_desc& d) { return kiln_desc_is_contiguous(&d) != 0; }
template <class T>
inline T* base_ptr(const kiln_tensor_desc& d) {
  return static_cast<T*>(d.data) + d.offset;
}

// A contiguous copy of a possibly strided input (or the input itself when it is contiguous).
// Kernels that need dense operands (softmax, pooling, convolution, indexing) call this first.
class DenseInput {
 public:
  DenseInput(const kiln_tensor_desc& src);
  const kiln_tensor_desc& desc() const { return desc_; }
  template <class T>
  const T* data() const {
    return base_ptr<const T>(desc_);
  }

 private:
  kiln_tensor_desc desc_;
  std::vector<unsigned char> storage_;
};

// ---- the strided layout engine ----
// Up to 4 operands (output first) of one shape; dims of extent 1 are dropped and dims that are
// contiguous in every operand are merged, so a dense tensor becomes one flat run.
struct Layout {
  static constexpr int kMaxOps = 4;
  int ndim = 0;
  int nops = 0;
  int64_t shape[KILN_MAX_DIMS] = {};
  int64_t strides[kMaxOps][KILN_MAX_DIMS] = {};
};
Layout make_layout(const kiln_tensor_desc* const* descs, int nops);

// Calls fn(offsets, count) for each innermost run of [begin, end) (linear row-major element
// indices); offsets[k] is operand k's element offset of the run's first element and its stride
// along the run is layout.strides[k][ndim - 1].
template <class Fn>
inline void for_each_run(const Layout& L, int64_t begin, int64_t end, Fn&& fn) {
  if (begin >= end) return;
  int64_t idx[KILN_MAX_DIMS];
  int64_t off[Layout::kMaxOps] = {};
  int64_t rem = begin;
  for (int d = L.ndim - 1; d >= 0; --d) {
    idx[d] = rem % L.shape[d];
    rem /= L.shape[d];
  }
  for (int k = 0; k < L.nops; ++k)
    for (int d = 0; d < L.ndim; ++d) off[k] += idx[d] * L.strides[k][d];
  const int inner = L.ndim - 1;
  int64_t pos = begin;
  while (pos < end) {
    int64_t count = std::min<int64_t>(L.shape[inner] - idx[inner], end - pos);
    fn(off, count);
    pos += count;
    if (pos >= end) break;
    // advance the odometer by `count` along the inner dim, then carry
    for (int k = 0; k < L.nops; ++k) off[k] += count * L.strides[k][inner];
    idx[inner] += count;
    for (int d = inner; d > 0 && idx[d] == L.shape[d]; --d) {
      for (int k = 0; k < L.nops; ++k) off[k] -= L.shape[d] * L.strides[k][d];
      idx[d] = 0;
      ++idx[d - 1];
      for (int k = 0; k < L.nops; ++k) off[k] += L.strides[k][d - 1];
    }
  }
}

// Element-count thresholds below which a loop stays on the calling thread.
inline constexpr int64_t kGrainCheap = 32768;   // memory-bound ops (add, copy, relu)
inline constexpr int64_t kGrainCostly = 4096;   // transcendental ops (exp, erf, philox)

}  // namespace kiln::tbbk

#endif  // KILN_BACKENDS_TBB_COMMON_HPP
