// Private helpers shared by the op implementations.
#pragma once

#include <kiln/autograd.hpp>
#include <kiln/ops.hpp>

#include "dispatch/dispatch.hpp"

namespace kiln::detail {

inline void check_defined(const char* op, std::initializer_list<Tensor> ts) {
  int i = 0;
  for (const Tensor& t : ts) {
    KILN_CHECK(t.defined(), ValueError, op, ": argument ", i, " is an undefined tensor");
    ++i;
  }
}

inline void check_floating(const char* op, const Tensor& t) {
  KILN_CHECK(is_floating(t.dtype()), DTypeError, op, ": expected a floating-point tensor (float32 or float64), got ",
             dtype_name(t.dtype()), " of shape ", t.shape());
}

inline Tensor as_dtype(const Tensor& t, DType d) { return t.dtype() == d ? t : t.to(d); }

// Runs a one-output op with no autograd into a fresh tensor.
inline Tensor run_unary_op(kiln_op op, const Tensor& x, DType out_dtype, const void* attrs = nullptr) {
  Tensor out = make_tensor(x.shape(), out_dtype, x.device());
  run(op, x.device(), {x}, {out}, attrs);
  return out;
}

}  // namespace kiln::detail
