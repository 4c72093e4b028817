// CAST, FILL, COPY and the counter-based random fills.
#include <kiln/plugin/philox.h>

#include "map.hpp"
#include "ops.hpp"

namespace kiln::tbbk {
namespace {

// out[i] = f(first + i) over a dense output, for the random fills (element i uses counter offset+i).
template <class T, class F>
KILN_TBB_CLONES void run_indexed(T* o, int64_t first, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) o[i] = f(static_cast<uint64_t>(first + i));
}

}  // namespace

void launch_cast(const kiln_tensor_desc& x, const kiln_tensor_desc& out) {
  dispatch_all(x.dtype, [&](auto in_tag) {
    using From = decltype(in_tag);
    dispatch_all(out.dtype, [&](auto out_tag) {
      using To = decltype(out_tag);
      map1<To, From>(out, x, kGrainCheap, [](From v) { return convert<To>(v); });
    });
  });
}

void launch_fill(const kiln_tensor_desc& out, const kiln_scalar_attrs& attrs) {
  dispatch_all(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T value = convert<T>(attrs.a);
    map0<T>(out, kGrainCheap, [value] { return value; });
  });
}

void launch_copy(const kiln_tensor_desc& x, const kiln_tensor_desc& out) {
  dispatch_all(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    map1<T, T>(out, x, kGrainCheap, [](T v) { return v; });
  });
}

void launch_random(kiln_op op, const kiln_tensor_desc& out, const kiln_random_attrs& attrs) {
  if (!is_contiguous(out)) fail(KILN_STATUS_INVALID_ARGUMENT, "tbb: ", op_name(op), ": output must be contiguous");
  const uint64_t seed = attrs.seed, offset = attrs.offset;
  const double a = attrs.a, b = attrs.b;
  auto fill = [&](auto tag, auto value_of) {
    using T = decltype(tag);
    T* o = base_ptr<T>(out);
    parallel_range(numel(out), kGrainCostly, [&](int64_t begin, int64_t end) {
      run_indexed(o + begin, begin, end - begin, [=](uint64_t i) { return convert<T>(value_of(offset + i)); });
    });
  };
  dispatch_all(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    switch (op) {
      case KILN_OP_UNIFORM:
        if constexpr (std::is_same_v<T, float>) {
          return fill(tag, [=](uint64_t c) { return kiln_random_uniform(seed, c, 0, a, b); });
        } else if constexpr (std::is_same_v<T, double>) {
          return fill(tag, [=](uint64_t c) { return kiln_random_uniform(seed, c, 1, a, b); });
        } else if constexpr (is_int_v<T>) {
          return fill(tag, [=](uint64_t c) { return std::floor(kiln_random_uniform(seed, c, 1, a, b)); });
        }
        break;
      case KILN_OP_NORMAL:
        if constexpr (is_float_v<T>) {
          return fill(tag, [=](uint64_t c) { return kiln_random_normal(seed, c, a, b); });
        }
        break;
      case KILN_OP_BERNOULLI: return fill(tag, [=](uint64_t c) { return kiln_random_bernoulli(seed, c, a); });
      default: break;
    }
    fail(KILN_STATUS_UNSUPPORTED, "tbb: ", op_name(op), " is not supported for this dtype");
  });
}

}  // namespace kiln::tbbk
