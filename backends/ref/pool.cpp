// 2-D max and average pooling, NCHW, and their backward ops. Output extents come from the
// descriptors (the host applied ceil_mode); they are checked against PyTorch's formula.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "dtype.hpp"
#include "kernels.hpp"
#include "strided.hpp"

namespace kiln::ref {
namespace {

struct PoolGeometry {
  int64_t batch, channels, height, width, out_h, out_w;
  int64_t kernel[2], stride[2], padding[2], dilation[2];
};

// PyTorch's pooling_output_shape: floor or ceil division, and in ceil mode the last window must
// start inside the input or its left padding.
int64_t pool_out_size(const char* op, int64_t in, int64_t k, int64_t s, int64_t p, int64_t d,
                      bool ceil_mode) {
  const int64_t span = checked_mul(op, d, k - 1);
  int64_t room = checked_add(op, checked_add(op, in, checked_mul(op, 2, p)), -span - 1);
  if (ceil_mode) room = checked_add(op, room, s - 1);
  if (room < 0) return room / s + 1 - (room % s != 0);  // floor division
  int64_t size = room / s + 1;
  if (ceil_mode && (size - 1) * s >= in + p) --size;
  return size;
}

// x is the input-plane tensor [N, C, H, W], y the pooled one [N, C, OH, OW].
PoolGeometry check_pool(const char* op, const kiln_tensor_desc& x, const kiln_tensor_desc& y,
                        const kiln_pool2d_attrs& attrs, bool is_max) {
  check_ndim(op, "input [N, C, H, W]", x, 4);
  check_ndim(op, "pooled [N, C, OH, OW]", y, 4);
  constexpr int64_t kMaxAttr = int64_t{1} << 31;
  PoolGeometry g{};
  for (int i = 0; i < 2; ++i) {
    g.kernel[i] = attrs.kernel[i], g.stride[i] = attrs.stride[i], g.padding[i] = attrs.padding[i];
    g.dilation[i] = is_max ? attrs.dilation[i] : 1;
    if (g.kernel[i] < 1 || g.stride[i] < 1 || g.dilation[i] < 1 || g.padding[i] < 0 ||
        g.kernel[i] > kMaxAttr || g.stride[i] > kMaxAttr || g.dilation[i] > kMaxAttr ||
        g.padding[i] > kMaxAttr)
      fail(KILN_STATUS_INVALID_ARGUMENT, op,
           ": expected kernel, stride, dilation in [1, 2^31] and padding in [0, 2^31]", ", got kernel ",
           g.kernel[i], ", stride ", g.stride[i], ", dilation ", g.dilation[i], ", padding ", g.padding[i]);
  }
  if (!is_max && (attrs.dilation[0] != 1 || attrs.dilation[1] != 1))
    fail(KILN_STATUS_INVALID_ARGUMENT, op, ": expected dilation 1 for average pooling, got ",
         attrs.dilation[0], ", ", attrs.dilation[1]);
  g.batch = x.shape[0], g.channels = x.shape[1], g.height = x.shape[2], g.width = x.shape[3];
  g.out_h = y.shape[2], g.out_w = y.shape[3];
  const int64_t oh =
      pool_out_size(op, g.height, g.kernel[0], g.stride[0], g.padding[0], g.dilation[0], attrs.ceil_mode);
  const int64_t ow =
      pool_out_size(op, g.width, g.kernel[1], g.stride[1], g.padding[1], g.dilation[1], attrs.ceil_mode);
  if (y.shape[0] != g.batch || y.shape[1] != g.channels || y.shape[2] != oh || y.shape[3] != ow)
    fail(KILN_STATUS_INVALID_ARGUMENT, op, ": expected pooled shape [", g.batch, ", ", g.channels, ", ", oh,
         ", ", ow, "] for input ", shape_str(x), " (ceil_mode ", attrs.ceil_mode, "), got ", shape_str(y));
  return g;
}

// ---- max pooling ----
template <class T>
void maxpool_forward(const char* op, const PoolGeometry& g, View<const T> x, View<T> y,
                     View<int64_t> indices) {
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t c = 0; c < g.channels; ++c)
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          // Padded cells are -inf and never win; the first maximum wins, and the first NaN beats all.
          int64_t best = -1;
          T top = -std::numeric_limits<T>::infinity();
          for (int64_t kh = 0; kh < g.kernel[0]; ++kh) {
            const int64_t ih = oh * g.stride[0] - g.padding[0] + kh * g.dilation[0];
            if (ih < 0 || ih >= g.height) continue;
            for (int64_t kw = 0; kw < g.kernel[1]; ++kw) {
              const int64_t iw = ow * g.stride[1] - g.padding[1] + kw * g.dilation[1];
              if (iw < 0 || iw >= g.width) continue;
              const T v = x(n, c, ih, iw);
              if (best < 0 || (!std::isnan(top) && (v > top || std::isnan(v)))) {
                best = ih * g.width + iw;
                top = v;
              }
            }
          }
          if (best < 0)
            fail(KILN_STATUS_INVALID_ARGUMENT, op, ": pooling window (", oh, ", ", ow,
                 ") lies entirely in the padding; expected padding <= kernel / 2");
          y(n, c, oh, ow) = top;
          indices(n, c, oh, ow) = best;
        }
}

template <class T>
void maxpool_backward(const char* op, const PoolGeometry& g, View<const T> dy, View<const int64_t> indices,
                      View<T> dx) {
  if (g.batch == 0 || g.channels == 0) return;  // and H * W may not even fit
  const int64_t plane = g.height * g.width;
  std::vector<double> acc(static_cast<size_t>(plane));
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t c = 0; c < g.channels; ++c) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          const int64_t i = indices(n, c, oh, ow);
          if (i < 0 || i >= plane)
            fail(KILN_STATUS_INVALID_ARGUMENT, op, ": index ", i, " at position [", n, ", ", c, ", ", oh,
                 ", ", ow, "] is out of range [0, ", plane, ") for an input plane of ", g.height, " x ",
                 g.width);
          acc[static_cast<size_t>(i)] += static_cast<double>(dy(n, c, oh, ow));
        }
      for (int64_t h = 0; h < g.height; ++h)
        for (int64_t w = 0; w < g.width; ++w)
          dx(n, c, h, w) = convert<T>(acc[static_cast<size_t>(h * g.width + w)]);
    }
}

// ---- average pooling (PyTorch's windows and divisors) ----
struct AvgWindow {
  int64_t h0, h1, w0, w1;  // clipped to the input: [h0, h1) x [w0, w1)
  double divisor;
};
AvgWindow avg_window(const PoolGeometry& g, int64_t oh, int64_t ow, bool count_include_pad) {
  int64_t h0 = oh * g.stride[0] - g.padding[0], w0 = ow * g.stride[1] - g.padding[1];
  int64_t h1 = std::min(h0 + g.kernel[0], g.height + g.padding[0]);
  int64_t w1 = std::min(w0 + g.kernel[1], g.width + g.padding[1]);
  const int64_t pool_size = (h1 - h0) * (w1 - w0);  // before clipping: counts padded cells
  h0 = std::max<int64_t>(h0, 0), w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, g.height), w1 = std::min(w1, g.width);
  const int64_t valid = h1 > h0 && w1 > w0 ? (h1 - h0) * (w1 - w0) : 0;
  return {h0, h1, w0, w1, static_cast<double>(count_include_pad ? pool_size : valid)};
}

template <class T>
void avgpool_forward(const PoolGeometry& g, bool count_include_pad, View<const T> x, View<T> y) {
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t c = 0; c < g.channels; ++c)
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          const AvgWindow win = avg_window(g, oh, ow, count_include_pad);
          double sum = 0;
          for (int64_t h = win.h0; h < win.h1; ++h)
            for (int64_t w = win.w0; w < win.w1; ++w) sum += static_cast<double>(x(n, c, h, w));
          // A window with no input cell averages nothing: 0, as PyTorch.
          y(n, c, oh, ow) = convert<T>(win.h1 > win.h0 && win.w1 > win.w0 ? sum / win.divisor : 0.0);
        }
}

template <class T>
void avgpool_backward(const PoolGeometry& g, bool count_include_pad, View<const T> dy, View<T> dx) {
  if (g.batch == 0 || g.channels == 0) return;  // and H * W may not even fit
  std::vector<double> acc(static_cast<size_t>(g.height * g.width));
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t c = 0; c < g.channels; ++c) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          const AvgWindow win = avg_window(g, oh, ow, count_include_pad);
          if (win.h1 <= win.h0 || win.w1 <= win.w0) continue;
          const double share = static_cast<double>(dy(n, c, oh, ow)) / win.divisor;
          for (int64_t h = win.h0; h < win.h1; ++h)
            for (int64_t w = win.w0; w < win.w1; ++w) acc[static_cast<size_t>(h * g.width + w)] += share;
        }
      for (int64_t h = 0; h < g.height; ++h)
        for (int64_t w = 0; w < g.width; ++w)
          dx(n, c, h, w) = convert<T>(acc[static_cast<size_t>(h * g.width + w)]);
    }
}

}  // namespace

void run_pool2d(kiln_op op, const kiln_tensor_desc* in, const kiln_tensor_desc* out,
                const kiln_pool2d_attrs& attrs) {
  const char* name = kiln_op_name(op);
  const bool include_pad = attrs.count_include_pad != 0;
  dispatch_float(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    switch (op) {
      case KILN_OP_MAXPOOL2D:  // (x) -> (y, indices)
        check_same_shape(name, "y", out[0], "indices", out[1]);
        maxpool_forward<T>(name, check_pool(name, in[0], out[0], attrs, true), View<const T>(in[0]),
                           View<T>(out[0]), View<int64_t>(out[1]));
        break;
      case KILN_OP_MAXPOOL2D_BACKWARD:  // (dy, indices) -> dx
        check_same_shape(name, "dy", in[0], "indices", in[1]);
        maxpool_backward<T>(name, check_pool(name, out[0], in[0], attrs, true), View<const T>(in[0]),
                            View<const int64_t>(in[1]), View<T>(out[0]));
        break;
      case KILN_OP_AVGPOOL2D:  // (x) -> y
        avgpool_forward<T>(check_pool(name, in[0], out[0], attrs, false), include_pad, View<const T>(in[0]),
                           View<T>(out[0]));
        break;
      case KILN_OP_AVGPOOL2D_BACKWARD:  // (dy) -> dx
        avgpool_backward<T>(check_pool(name, out[0], in[0], attrs, false), include_pad, View<const T>(in[0]),
                            View<T>(out[0]));
        break;
      default:
        fail(KILN_STATUS_INTERNAL, "ref: op ", name, " reached the pool kernel");
    }
  });
}

}  // namespace kiln::ref
