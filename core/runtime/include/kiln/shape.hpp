// Shape: a small inline vector of extents (at most KILN_MAX_DIMS), cheap to copy, no allocation.
#pragma once

#include <kiln/error.hpp>
#include <kiln/plugin/kiln_backend.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

namespace kiln {

class Shape {
 public:
  static constexpr int kMaxDims = KILN_MAX_DIMS;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(const std::vector<int64_t>& dims) { assign(dims.begin(), dims.end()); }
  template <typename It>
  Shape(It first, It last) { assign(first, last); }

  int64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int64_t& operator[](int64_t i) { return dims_[i]; }
  int64_t operator[](int64_t i) const { return dims_[i]; }
  const int64_t* data() const { return dims_; }
  int64_t* data() { return dims_; }
  const int64_t* begin() const { return dims_; }
  const int64_t* end() const { return dims_ + size_; }
  int64_t* begin() { return dims_; }
  int64_t* end() { return dims_ + size_; }
  int64_t back() const { return dims_[size_ - 1]; }

  void push_back(int64_t d) {
    KILN_CHECK(size_ < kMaxDims, ShapeError, "tensors have at most ", kMaxDims, " dimensions");
    dims_[size_++] = d;
  }
  void insert(int64_t pos, int64_t d) {
    KILN_CHECK(size_ < kMaxDims, ShapeError, "tensors have at most ", kMaxDims, " dimensions");
    for (int64_t i = size_; i > pos; --i) dims_[i] = dims_[i - 1];
    dims_[pos] = d;
    ++size_;
  }
  void erase(int64_t pos) {
    for (int64_t i = pos; i + 1 < size_; ++i) dims_[i] = dims_[i + 1];
    --size_;
  }
  void resize(int64_t n, int64_t value = 0) {
    KILN_CHECK(n <= kMaxDims, ShapeError, "tensors have at most ", kMaxDims, " dimensions, got ", n);
    for (int64_t i = size_; i < n; ++i) dims_[i] = value;
    size_ = static_cast<int32_t>(n);
  }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t i = 0; i < size_; ++i) n *= dims_[i];
    return n;
  }
  std::vector<int64_t> vec() const { return {begin(), end()}; }
  bool operator==(const Shape& o) const { return std::equal(begin(), end(), o.begin(), o.end()); }
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const {
    std::string s = "[";
    for (int64_t i = 0; i < size_; ++i) s += (i ? ", " : "") + std::to_string(dims_[i]);
    return s + "]";
  }

 private:
  template <typename It>
  void assign(It first, It last) {
    size_ = 0;
    for (; first != last; ++first) push_back(static_cast<int64_t>(*first));
  }
  int64_t dims_[kMaxDims] = {};
  int32_t size_ = 0;
};

inline std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

// Row-major strides for a shape.
inline Shape contiguous_strides(const Shape& shape) {
  Shape strides;
  strides.resize(shape.size());
  int64_t s = 1;
  for (int64_t i = shape.size() - 1; i >= 0; --i) {
    strides[i] = s;
    s *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

// Wraps a possibly negative axis into [0, ndim); throws IndexError naming the op otherwise.
inline int64_t wrap_axis(int64_t axis, int64_t ndim, const char* op) {
  int64_t n = std::max<int64_t>(ndim, 1);
  KILN_CHECK(axis >= -n && axis < n, IndexError, op, ": axis ", axis, " is out of range for a tensor of ",
             ndim, " dimension(s) (expected -", n, " <= axis < ", n, ")");
  return axis < 0 ? axis + n : axis;
}

// NumPy broadcasting of two shapes; throws ShapeError naming the op and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace kiln
