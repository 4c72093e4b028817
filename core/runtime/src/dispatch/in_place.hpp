// In-place pointwise updates of state tensors (optimizer buffers and parameters, batch norm's
// running statistics): each runs with the state tensor as the launch's output, which pointwise
// ops allow (Note [In-place updates] in optim.cpp). Never recorded by autograd.
#ifndef KILN_CORE_SRC_IN_PLACE_HPP
#define KILN_CORE_SRC_IN_PLACE_HPP

#include <kiln/ops.hpp>
#include <kiln/tensor.hpp>

#include "dispatch/dispatch.hpp"

namespace kiln::detail {

// t <- t * s
inline void scale_in_place(const Tensor& t, double s) {
  kiln_scalar_attrs attrs{KILN_ATTRS_HEAD(kiln_scalar_attrs), s, 0};
  run(KILN_OP_MUL_SCALAR, t.device(), {t}, {t}, &attrs);
}

// t <- t + x * s (x of t's shape, dtype and device)
inline void add_scaled_in_place(const Tensor& t, const Tensor& x, double s) {
  KILN_ASSERT(x.shape() == t.shape() && x.dtype() == t.dtype() && x.device() == t.device(),
              "add_scaled_in_place: operands differ");
  Tensor term = s == 1.0 ? x : mul(x, s);
  run(KILN_OP_ADD, t.device(), {t, term}, {t});
}

// out <- x * s + z in one MUL_ADD launch, out being x or z and s a one-element tensor; false
// (nothing done) where the operands differ or no backend in out's memory has MUL_ADD.
inline bool mul_add_in_place(const Tensor& out, const Tensor& x, const Tensor& s, const Tensor& z) {
  for (const Tensor* t : {&x, &z})
    if (t->shape() != out.shape() || t->dtype() != out.dtype() || t->device() != out.device()) return false;
  if (s.device() != out.device()) return false;
  return run_without_copy(KILN_OP_MUL_ADD, out.device(), {x, s.expand(out.shape()), z}, {out});
}

}  // namespace kiln::detail

#endif  // KILN_CORE_SRC_IN_PLACE_HPP
