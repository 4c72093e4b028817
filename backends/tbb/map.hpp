// Pointwise drivers: out[i] = f(in0[i], ...) over tensors of one shape with any strides.
// Dense operands run as one flat loop; others go through the layout engine, one inner run at a
// time. The inner loops are multi-versioned (AVX-512 / AVX2 / portable) and specialised for the
// unit-stride and broadcast (stride 0) cases so they vectorize.
#ifndef KILN_BACKENDS_TBB_MAP_HPP
#define KILN_BACKENDS_TBB_MAP_HPP

#include "common.hpp"

namespace kiln::tbbk {

// The dense loops are multi-versioned; strided runs (rarer) are compiled once for the baseline ISA,
// with the common broadcast shapes (one operand of stride 0) spelled out so they still vectorize.
// Keeping the clones to one loop each keeps compile time reasonable.
template <class TO, class F>
KILN_TBB_CLONES void dense0(TO* __restrict o, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) o[i] = f();
}
template <class TO, class F>
void strided0(TO* o, int64_t so, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) o[i * so] = f();
}

template <class TO, class TA, class F>
KILN_TBB_CLONES void dense1(TO* __restrict o, const TA* __restrict a, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) o[i] = f(a[i]);
}
template <class TO, class TA, class F>
void strided1(TO* o, int64_t so, const TA* a, int64_t sa, int64_t n, F f) {
  if (sa == 0) {
    const TO v = f(a[0]);
    for (int64_t i = 0; i < n; ++i) o[i * so] = v;
  } else {
    for (int64_t i = 0; i < n; ++i) o[i * so] = f(a[i * sa]);
  }
}

template <class TO, class TA, class TB, class F>
KILN_TBB_CLONES void dense2(TO* __restrict o, const TA* __restrict a, const TB* __restrict b, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
}
template <class TO, class TA, class TB, class F>
void strided2(TO* o, int64_t so, const TA* a, int64_t sa, const TB* b, int64_t sb, int64_t n, F f) {
  if (so == 1 && sa == 1 && sb == 0) {
    const TB bv = b[0];
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], bv);
  } else if (so == 1 && sa == 0 && sb == 1) {
    const TA av = a[0];
    for (int64_t i = 0; i < n; ++i) o[i] = f(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) o[i * so] = f(a[i * sa], b[i * sb]);
  }
}

template <class TO, class TA, class TB, class TC, class F>
KILN_TBB_CLONES void dense3(TO* __restrict o, const TA* __restrict a, const TB* __restrict b, const TC* __restrict c,
                            int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i], c[i]);
}
template <class TO, class TA, class TB, class TC, class F>
void strided3(TO* o, int64_t so, const TA* a, int64_t sa, const TB* b, int64_t sb, const TC* c, int64_t sc, int64_t n,
              F f) {
  for (int64_t i = 0; i < n; ++i) o[i * so] = f(a[i * sa], b[i * sb], c[i * sc]);
}

// Runs body(run_begin, run_end) or, for strided operands, the layout engine's runs, in parallel
// once the tensor is larger than `grain` elements.
template <class Dense, class Strided>
void map_driver(const kiln_tensor_desc* const* descs, int nops, int64_t grain, Dense&& dense,
                Strided&& strided) {
  const int64_t n = numel(*descs[0]);
  if (n == 0) return;
  bool all_dense = true;
  for (int k = 0; k < nops; ++k) all_dense = all_dense && is_contiguous(*descs[k]);
  if (all_dense) {
    parallel_range(n, grain, dense);
    return;
  }
  const Layout layout = make_layout(descs, nops);
  parallel_range(n, grain, [&](int64_t begin, int64_t end) {
    for_each_run(layout, begin, end, [&](const int64_t* off, int64_t count) {
      strided(off, layout.strides, layout.ndim - 1, count);
    });
  });
}

template <class TO, class F>
void map0(const kiln_tensor_desc& out, int64_t grain, F f) {
  const kiln_tensor_desc* descs[] = {&out};
  TO* o = base_ptr<TO>(out);
  map_driver(
      descs, 1, grain, [&](int64_t b, int64_t e) { dense0(o + b, e - b, f); },
      [&](const int64_t* off, const int64_t (*st)[KILN_MAX_DIMS], int in, int64_t count) {
        strided0(o + off[0], st[0][in], count, f);
      });
}

template <class TO, class TA, class F>
void map1(const kiln_tensor_desc& out, const kiln_tensor_desc& a, int64_t grain, F f) {
  const kiln_tensor_desc* descs[] = {&out, &a};
  TO* o = base_ptr<TO>(out);
  const TA* pa = base_ptr<const TA>(a);
  map_driver(
      descs, 2, grain, [&](int64_t b, int64_t e) { dense1(o + b, pa + b, e - b, f); },
      [&](const int64_t* off, const int64_t (*st)[KILN_MAX_DIMS], int in, int64_t count) {
        strided1(o + off[0], st[0][in], pa + off[1], st[1][in], count, f);
      });
}

template <class TO, class TA, class TB, class F>
void map2(const kiln_tensor_desc& out, const kiln_tensor_desc& a, const kiln_tensor_desc& b, int64_t grain, F f) {
  const kiln_tensor_desc* descs[] = {&out, &a, &b};
  TO* o = base_ptr<TO>(out);
  const TA* pa = base_ptr<const TA>(a);
  const TB* pb = base_ptr<const TB>(b);
  map_driver(
      descs, 3, grain, [&](int64_t s, int64_t e) { dense2(o + s, pa + s, pb + s, e - s, f); },
      [&](const int64_t* off, const int64_t (*st)[KILN_MAX_DIMS], int in, int64_t count) {
        strided2(o + off[0], st[0][in], pa + off[1], st[1][in], pb + off[2], st[2][in], count, f);
      });
}

template <class TO, class TA, class TB, class TC, class F>
void map3(const kiln_tensor_desc& out, const kiln_tensor_desc& a, const kiln_tensor_desc& b,
          const kiln_tensor_desc& c, int64_t grain, F f) {
  const kiln_tensor_desc* descs[] = {&out, &a, &b, &c};
  TO* o = base_ptr<TO>(out);
  const TA* pa = base_ptr<const TA>(a);
  const TB* pb = base_ptr<const TB>(b);
  const TC* pc = base_ptr<const TC>(c);
  map_driver(
      descs, 4, grain,
      [&](int64_t s, int64_t e) { dense3(o + s, pa + s, pb + s, pc + s, e - s, f); },
      [&](const int64_t* off, const int64_t (*st)[KILN_MAX_DIMS], int in, int64_t count) {
        strided3(o + off[0], st[0][in], pa + off[1], st[1][in], pb + off[2], st[2][in], pc + off[3], st[3][in],
                 count, f);
      });
}

}  // namespace kiln::tbbk

#endif  // KILN_BACKENDS_TBB_MAP_HPP
