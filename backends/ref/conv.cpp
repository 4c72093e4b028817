// 2-D convolution, NCHW, weight [O, C/groups, KH, KW], zero padding, and its two backward ops.
// Every output element is one direct sum (no scatter), accumulated in double.
#include "dtype.hpp"
#include "kernels.hpp"
#include "strided.hpp"

namespace kiln::ref {
namespace {

struct ConvGeometry {
  int64_t batch, channels, height, width;    // x [N, C, H, W]
  int64_t out_channels, kernel_h, kernel_w;  // w [O, C/g, KH, KW]
  int64_t out_h, out_w;                      // y [N, O, OH, OW]
  int64_t groups, channels_per_group, out_per_group;
  int64_t stride[2], padding[2], dilation[2];
};

// (in + 2p - d(k-1) - 1) / s + 1, or -1 when no window fits; overflow is an argument error.
int64_t conv_out_size(const char* op, int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
  const int64_t span = checked_mul(op, d, k - 1);
  const int64_t room = checked_add(op, checked_add(op, in, checked_mul(op, 2, p)), -span - 1);
  return room < 0 ? -1 : room / s + 1;
}

// Reads the geometry from the descriptors playing the roles x, w and y, and checks they agree.
ConvGeometry check_conv(const char* op, const kiln_tensor_desc& x, const kiln_tensor_desc& w,
                        const kiln_tensor_desc& y, const kiln_conv2d_attrs& attrs) {
  check_ndim(op, "x [N, C, H, W]", x, 4);
  check_ndim(op, "weight [O, C/groups, KH, KW]", w, 4);
  check_ndim(op, "y [N, O, OH, OW]", y, 4);
  for (int i = 0; i < 2; ++i)
    if (attrs.stride[i] < 1 || attrs.dilation[i] < 1 || attrs.padding[i] < 0)
      fail(KILN_STATUS_INVALID_ARGUMENT, op,
           ": expected stride >= 1, dilation >= 1, padding >= 0, got stride ", attrs.stride[i], ", dilation ",
           attrs.dilation[i], ", padding ", attrs.padding[i]);
  ConvGeometry g{};
  g.batch = x.shape[0], g.channels = x.shape[1], g.height = x.shape[2], g.width = x.shape[3];
  g.out_channels = w.shape[0], g.kernel_h = w.shape[2], g.kernel_w = w.shape[3];
  g.out_h = y.shape[2], g.out_w = y.shape[3];
  g.groups = attrs.groups;
  for (int i = 0; i < 2; ++i) {
    g.stride[i] = attrs.stride[i], g.padding[i] = attrs.padding[i], g.dilation[i] = attrs.dilation[i];
  }
  if (g.groups < 1 || g.channels % g.groups != 0 || g.out_channels % g.groups != 0 ||
      checked_mul(op, w.shape[1], g.groups) != g.channels)
    fail(KILN_STATUS_INVALID_ARGUMENT, op,
         ": expected groups >= 1 dividing C and O with weight [O, C/groups, KH, KW]", ", got groups ",
         g.groups, ", x ", shape_str(x), ", weight ", shape_str(w));
  g.channels_per_group = g.channels / g.groups;
  g.out_per_group = g.out_channels / g.groups;
  if (g.kernel_h < 1 || g.kernel_w < 1)
    fail(KILN_STATUS_INVALID_ARGUMENT, op, ": expected a non-empty kernel, got weight ", shape_str(w));
  const int64_t oh = conv_out_size(op, g.height, g.kernel_h, g.stride[0], g.padding[0], g.dilation[0]);
  const int64_t ow = conv_out_size(op, g.width, g.kernel_w, g.stride[1], g.padding[1], g.dilation[1]);
  if (y.shape[0] != g.batch || y.shape[1] != g.out_channels || oh != g.out_h || ow != g.out_w)
    fail(KILN_STATUS_INVALID_ARGUMENT, op, ": expected y of shape [", g.batch, ", ", g.out_channels, ", ", oh,
         ", ", ow, "] for x ", shape_str(x), " and weight ", shape_str(w), ", got ", shape_str(y));
  return g;
}

// Input coordinate seen by output coordinate `o` through kernel tap `k` along dim `i` (may be outside).
int64_t input_pos(const ConvGeometry& g, int i, int64_t o, int64_t k) {
  return o * g.stride[i] - g.padding[i] + k * g.dilation[i];
}

template <class T>
void conv_forward(const ConvGeometry& g, View<const T> x, View<const T> w, View<T> y) {
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t o = 0; o < g.out_channels; ++o) {
      const int64_t c0 = o / g.out_per_group * g.channels_per_group;
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          double sum = 0;
          for (int64_t c = 0; c < g.channels_per_group; ++c)
            for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
              const int64_t ih = input_pos(g, 0, oh, kh);
              if (ih < 0 || ih >= g.height) continue;
              for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
                const int64_t iw = input_pos(g, 1, ow, kw);
                if (iw < 0 || iw >= g.width) continue;
                sum += static_cast<double>(x(n, c0 + c, ih, iw)) * static_cast<double>(w(o, c, kh, kw));
              }
            }
          y(n, o, oh, ow) = convert<T>(sum);
        }
    }
}

// Output coordinate that reads input coordinate `in` through tap `k` along dim `i`, or -1.
int64_t output_pos(const ConvGeometry& g, int i, int64_t in, int64_t k, int64_t out_extent) {
  const int64_t t = in + g.padding[i] - k * g.dilation[i];
  if (t < 0 || t % g.stride[i] != 0) return -1;
  const int64_t o = t / g.stride[i];
  return o < out_extent ? o : -1;
}

template <class T>
void conv_backward_input(const ConvGeometry& g, View<const T> dy, View<const T> w, View<T> dx) {
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t ci = 0; ci < g.channels; ++ci) {
      const int64_t group = ci / g.channels_per_group, c = ci % g.channels_per_group;
      for (int64_t ih = 0; ih < g.height; ++ih)
        for (int64_t iw = 0; iw < g.width; ++iw) {
          double sum = 0;
          for (int64_t o = group * g.out_per_group; o < (group + 1) * g.out_per_group; ++o)
            for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
              const int64_t oh = output_pos(g, 0, ih, kh, g.out_h);
              if (oh < 0) continue;
              for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
                const int64_t ow = output_pos(g, 1, iw, kw, g.out_w);
                if (ow < 0) continue;
                sum += static_cast<double>(dy(n, o, oh, ow)) * static_cast<double>(w(o, c, kh, kw));
              }
            }
          dx(n, ci, ih, iw) = convert<T>(sum);
        }
    }
}

template <class T>
void conv_backward_weight(const ConvGeometry& g, View<const T> dy, View<const T> x, View<T> dw) {
  for (int64_t o = 0; o < g.out_channels; ++o) {
    const int64_t c0 = o / g.out_per_group * g.channels_per_group;
    for (int64_t c = 0; c < g.channels_per_group; ++c)
      for (int64_t kh = 0; kh < g.kernel_h; ++kh)
        for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
          double sum = 0;
          for (int64_t n = 0; n < g.batch; ++n)
            for (int64_t oh = 0; oh < g.out_h; ++oh) {
              const int64_t ih = input_pos(g, 0, oh, kh);
              if (ih < 0 || ih >= g.height) continue;
              for (int64_t ow = 0; ow < g.out_w; ++ow) {
                const int64_t iw = input_pos(g, 1, ow, kw);
                if (iw < 0 || iw >= g.width) continue;
                sum += static_cast<double>(dy(n, o, oh, ow)) * static_cast<double>(x(n, c0 + c, ih, iw));
              }
            }
          dw(o, c, kh, kw) = convert<T>(sum);
        }
  }
}

}  // namespace

void run_conv2d(kiln_op op, const kiln_tensor_desc& in0, const kiln_tensor_desc& in1,
                const kiln_tensor_desc& out, const kiln_conv2d_attrs& attrs) {
  const char* name = kiln_op_name(op);
  dispatch_float(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    switch (op) {
      case KILN_OP_CONV2D:  // (x, w) -> y
        conv_forward<T>(check_conv(name, in0, in1, out, attrs), View<const T>(in0), View<const T>(in1),
                        View<T>(out));
        break;
      case KILN_OP_CONV2D_BACKWARD_INPUT:  // (dy, w) -> dx
        conv_backward_input<T>(check_conv(name, out, in1, in0, attrs), View<const T>(in0), View<const T>(in1),
                               View<T>(out));
        break;
      case KILN_OP_CONV2D_BACKWARD_WEIGHT:  // (dy, x) -> dw
        conv_backward_weight<T>(check_conv(name, in1, out, in0, attrs), View<const T>(in0),
                                View<const T>(in1), View<T>(out));
        break;
      default:
        fail(KILN_STATUS_INTERNAL, "ref: op ", name, " reached the conv kernel");
    }
  });
}

}  // namespace kiln::ref
