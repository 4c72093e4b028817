// Strided tensor access for the reference backend: descriptor checks, an index walker, a typed view.
//
// Note [Index arithmetic stays in range]
// check_desc() bounds every descriptor before a kernel runs: each extent is at most kMaxExtent, the
// running product of extents (numel) fits in int64, and |offset| + sum |stride_d| * shape_d fits too. Every
// element offset a kernel computes from an in-range index (and the walker's one-past-the-end step) is
// therefore free of signed overflow.
#ifndef KILN_BACKENDS_REF_STRIDED_HPP
#define KILN_BACKENDS_REF_STRIDED_HPP

#include <array>
#include <cstdint>
#include <sstream>
#include <string>

#include "dtype.hpp"

namespace kiln::ref {

inline constexpr int64_t kMaxExtent = int64_t{1} << 40;

// a * b and a + b, failing with INVALID_ARGUMENT (naming `op`) instead of overflowing.
inline int64_t checked_mul(const char* op, int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r))
    fail(KILN_STATUS_INVALID_ARGUMENT, op, ": size arithmetic overflows int64");
  return r;
}
inline int64_t checked_add(const char* op, int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r))
    fail(KILN_STATUS_INVALID_ARGUMENT, op, ": size arithmetic overflows int64");
  return r;
}

inline std::string shape_str(const int64_t* shape, int32_t ndim) {
  std::ostringstream os;
  os << '[';
  for (int32_t d = 0; d < ndim; ++d) os << (d ? ", " : "") << shape[d];
  os << ']';
  return os.str();
}
inline std::string shape_str(const kiln_tensor_desc& d) {
  return shape_str(d.shape, d.ndim);
}

// Number of elements of a checked descriptor.
inline int64_t numel(const kiln_tensor_desc& d) {
  int64_t n = 1;
  for (int32_t k = 0; k < d.ndim; ++k) n *= d.shape[k];
  return n;
}

// Validates one descriptor (see Note [Index arithmetic stays in range]).
inline void check_desc(const char* op, const char* role, const kiln_tensor_desc& d) {
  if (d.ndim < 0 || d.ndim > KILN_MAX_DIMS)
    fail(KILN_STATUS_INVALID_ARGUMENT, op, ": ", role, " has ndim ", d.ndim, ", expected 0..", KILN_MAX_DIMS);
  if (d.offset == INT64_MIN) fail(KILN_STATUS_INVALID_ARGUMENT, op, ": ", role, " has offset ", d.offset);
  int64_t n = 1;
  int64_t reach = d.offset < 0 ? -d.offset : d.offset;
  for (int32_t k = 0; k < d.ndim; ++k) {
    if (d.shape[k] < 0 || d.shape[k] > kMaxExtent)
      fail(KILN_STATUS_INVALID_ARGUMENT, op, ": ", role, " has shape ", shape_str(d),
           ", expected extents in [0, 2^40]");
    if (d.strides[k] < -kMaxExtent * 1024 || d.strides[k] > kMaxExtent * 1024)
      fail(KILN_STATUS_INVALID_ARGUMENT, op, ": ", role, " has stride ", d.strides[k], " in dim ", k);
    n = checked_mul(op, n, d.shape[k]);
    const int64_t step = d.strides[k] < 0 ? -d.strides[k] : d.strides[k];
    reach = checked_add(op, reach, checked_mul(op, step, d.shape[k]));
  }
  if (n > 0 && d.data == nullptr)
    fail(KILN_STATUS_INVALID_ARGUMENT, op, ": ", role, " has a null data pointer");
}

inline bool same_shape(const kiln_tensor_desc& a, const kiln_tensor_desc& b) {
  if (a.ndim != b.ndim) return false;
  for (int32_t k = 0; k < a.ndim; ++k)
    if (a.shape[k] != b.shape[k]) return false;
  return true;
}
inline void check_same_shape(const char* op, const char* a_role, const kiln_tensor_desc& a,
                             const char* b_role, const kiln_tensor_desc& b) {
  if (!same_shape(a, b))
    fail(KILN_STATUS_INVALID_ARGUMENT, op, ": expected ", a_role, " and ", b_role, " of the same shape, got ",
         shape_str(a), " and ", shape_str(b));
}
inline void check_ndim(const char* op, const char* role, const kiln_tensor_desc& d, int32_t ndim) {
  if (d.ndim != ndim)
    fail(KILN_STATUS_INVALID_ARGUMENT, op, ": expected ", role, " with ", ndim, " dims, got shape ",
         shape_str(d));
}

// One operand of a walk: its starting element offset and its strides over the walked shape.
struct Operand {
  int64_t offset;
  const int64_t* strides;
};
inline Operand operand(const kiln_tensor_desc& d) {
  return {d.offset, d.strides};
}

// Visits every index of `shape` in row-major order, calling fn(index, offsets) where offsets[k] is
// operand k's element offset at that index. Does nothing when an extent is 0; ndim 0 visits once.
template <size_t N, class Fn>
void walk(int32_t ndim, const int64_t* shape, const std::array<Operand, N>& operands, Fn&& fn) {
  for (int32_t d = 0; d < ndim; ++d)
    if (shape[d] == 0) return;
  int64_t index[KILN_MAX_DIMS] = {};
  std::array<int64_t, N> offsets;
  for (size_t k = 0; k < N; ++k) offsets[k] = operands[k].offset;
  while (true) {
    fn(static_cast<const int64_t*>(index), static_cast<const std::array<int64_t, N>&>(offsets));
    int32_t d = ndim - 1;
    for (; d >= 0; --d) {
      ++index[d];
      for (size_t k = 0; k < N; ++k) offsets[k] += operands[k].strides[d];
      if (index[d] < shape[d]) break;
      for (size_t k = 0; k < N; ++k) offsets[k] -= operands[k].strides[d] * shape[d];
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

// A typed window on a descriptor: v(i0, i1, ...) is the element at that index, v.at(off) the element
// at an element offset from walk().
template <class T>
class View {
 public:
  explicit View(const kiln_tensor_desc& d) : desc_(d), data_(static_cast<T*>(d.data)) {}
  template <class... I>
  T& operator()(I... index) const {
    int64_t off = desc_.offset;
    int32_t k = 0;
    ((off += static_cast<int64_t>(index) * desc_.strides[k++]), ...);
    return data_[off];
  }
  T& at(int64_t off) const { return data_[off]; }
  int64_t size(int32_t d) const { return desc_.shape[d]; }
  const kiln_tensor_desc& desc() const { return desc_; }

 private:
  const kiln_tensor_desc& desc_;
  T* data_;
};

// out[i] = f(x[i]) over out's shape (x already has out's shape).
template <class To, class From, class Fn>
void map1(const kiln_tensor_desc& x, const kiln_tensor_desc& out, Fn&& f) {
  View<const From> xv(x);
  View<To> ov(out);
  walk<2>(out.ndim, out.shape, {operand(x), operand(out)},
          [&](const int64_t*, const auto& off) { ov.at(off[1]) = f(xv.at(off[0])); });
}
// out[i] = f(a[i], b[i]).
template <class To, class From, class Fn>
void map2(const kiln_tensor_desc& a, const kiln_tensor_desc& b, const kiln_tensor_desc& out, Fn&& f) {
  View<const From> av(a), bv(b);
  View<To> ov(out);
  walk<3>(out.ndim, out.shape, {operand(a), operand(b), operand(out)},
          [&](const int64_t*, const auto& off) { ov.at(off[2]) = f(av.at(off[0]), bv.at(off[1])); });
}

}  // namespace kiln::ref

#endif  // KILN_BACKENDS_REF_STRIDED_HPP
