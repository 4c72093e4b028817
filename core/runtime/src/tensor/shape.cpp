// NumPy broadcasting of two shapes (declared in kiln/shape.hpp).
#include <kiln/shape.hpp>

#include <algorithm>

namespace kiln {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  int64_t n = std::max(a.size(), b.size());
  Shape out;
  out.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    int64_t x = i - (n - a.size()) >= 0 ? a[i - (n - a.size())] : 1;
    int64_t y = i - (n - b.size()) >= 0 ? b[i - (n - b.size())] : 1;
    KILN_CHECK(x == y || x == 1 || y == 1, ShapeError, op, ": shapes ", a, " and ", b,
               " cannot be broadcast (axis ", i, " of the result: ", x, " vs ", y,
               "; extents must be equal or 1)");
    out[i] = x == 1 ? y : x;
  }
  return out;
}

}  // namespace kiln
