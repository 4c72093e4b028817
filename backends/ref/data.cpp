// Data movement and fills: cast, fill, copy, and the counter-based random fills of philox.h.
#include <kiln/plugin/philox.h>

#include <cmath>

#include "dtype.hpp"
#include "kernels.hpp"
#include "strided.hpp"

namespace kiln::ref {

void run_cast(const kiln_tensor_desc& x, const kiln_tensor_desc& out) {
  check_same_shape("cast", "x", x, "out", out);
  dispatch_all(x.dtype, [&](auto from_tag) {
    using From = decltype(from_tag);
    dispatch_all(out.dtype, [&](auto to_tag) {
      using To = decltype(to_tag);
      map1<To, From>(x, out, [](From v) { return convert<To>(v); });
    });
  });
}

void run_fill(const kiln_tensor_desc& out, const kiln_scalar_attrs& attrs) {
  dispatch_all(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T value = convert<T>(attrs.a);
    View<T> ov(out);
    walk<1>(out.ndim, out.shape, {operand(out)},
            [&](const int64_t*, const auto& off) { ov.at(off[0]) = value; });
  });
}

void run_copy(const kiln_tensor_desc& x, const kiln_tensor_desc& out) {
  check_same_shape("copy", "x", x, "out", out);
  dispatch_all(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    map1<T, T>(x, out, [](T v) { return v; });
  });
}

// Element i (row-major) draws with counter offset + i (wrapping, as uint64 does).
void run_random(kiln_op op, const kiln_tensor_desc& out, const kiln_random_attrs& attrs) {
  dispatch_all(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    View<T> ov(out);
    uint64_t counter = attrs.offset;
    walk<1>(out.ndim, out.shape, {operand(out)}, [&](const int64_t*, const auto& off) {
      const uint64_t c = counter++;
      double v = 0;
      switch (op) {
        case KILN_OP_UNIFORM:
          if constexpr (std::is_same_v<T, float>) {
            v = kiln_random_uniform(attrs.seed, c, 0, attrs.a, attrs.b);
          } else if constexpr (std::is_same_v<T, double>) {
            v = kiln_random_uniform(attrs.seed, c, 1, attrs.a, attrs.b);
          } else {
            v = std::floor(kiln_random_uniform(attrs.seed, c, 1, attrs.a, attrs.b));
          }
          break;
        case KILN_OP_NORMAL:
          v = kiln_random_normal(attrs.seed, c, attrs.a, attrs.b);
          break;
        case KILN_OP_BERNOULLI:
          v = kiln_random_bernoulli(attrs.seed, c, attrs.a);
          break;
        default:
          fail(KILN_STATUS_INTERNAL, "ref: op ", kiln_op_name(op), " reached the random kernel");
      }
      ov.at(off[0]) = convert<T>(v);
    });
  });
}

}  // namespace kiln::ref
