// CONV2D and its two backwards, NCHW, by im2col + the packed GEMM (gemm.cpp).
//
// Per image n and group g (Cg = C/groups input channels, Og = O/groups outputs, P = OH*OW,
// Kd = Cg*KH*KW):  forward  y[n, g] (Og x P)  = w[g] (Og x Kd) * col(x[n, g]) (Kd x P)
//                  input    dx[n, g]          = col2im(w[g]^T (Kd x Og) * dy[n, g] (Og x P))
//                  weight   dw[g] (Og x Kd)  += dy[n, g] (Og x P) * col(x[n, g])^T (P x Kd)
// A 1x1 convolution with stride 1 and no padding skips im2col (the image already is the matrix).
// Images run in parallel with serial GEMMs when there are enough of them, otherwise the GEMM itself
// is parallel. The weight gradient sums images in a fixed number of chunks combined in order
// (Note [Deterministic reductions] in reduce.cpp).
#include "conv_kernels.hpp"
#include "gemm.hpp"
#include "ops.hpp"

namespace kiln::tbbk {
namespace {

struct Geometry {
  int64_t N, C, H, W, O, KH, KW, OH, OW, groups, Cg, Og, P, Kd;
  int64_t sh, sw, ph, pw, dh, dw;
  bool direct;  // 1x1, stride 1, no padding: col == x
};

Geometry geometry(const Desc& x, const Desc& w, const Desc& y, const kiln_conv2d_attrs& a, kiln_op op) {
  Geometry g{};
  if (x.ndim != 4 || w.ndim != 4 || y.ndim != 4)
    fail(KILN_STATUS_INVALID_ARGUMENT, "tbb: ", op_name(op), " expects 4-d NCHW tensors");
  g.N = x.shape[0], g.C = x.shape[1], g.H = x.shape[2], g.W = x.shape[3];
  g.O = w.shape[0], g.KH = w.shape[2], g.KW = w.shape[3];
  g.OH = y.shape[2], g.OW = y.shape[3];
  g.groups = a.groups;
  g.sh = a.stride[0], g.sw = a.stride[1], g.ph = a.padding[0], g.pw = a.padding[1];
  g.dh = a.dilation[0], g.dw = a.dilation[1];
  if (g.groups < 1 || g.C % g.groups != 0 || g.O % g.groups != 0 || w.shape[1] * g.groups != g.C ||
      y.shape[0] != g.N || y.shape[1] != g.O || g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1)
    fail(KILN_STATUS_INVALID_ARGUMENT, "tbb: ", op_name(op), ": inconsistent shapes or attributes (C=", g.C,
         ", O=", g.O, ", weight C/groups=", w.shape[1], ", groups=", g.groups, ")");
  g.Cg = g.C / g.groups, g.Og = g.O / g.groups;
  g.P = g.OH * g.OW, g.Kd = g.Cg * g.KH * g.KW;
  g.direct = g.KH == 1 && g.KW == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 && g.OH == g.H &&
             g.OW == g.W;
  return g;
}

// col[(c*KH + kh)*KW + kw][oh*OW + ow] = x[c][oh*sh - ph + kh*dh][ow*sw - pw + kw*dw] (0 outside);
// rows ld apart, the columns from P to ld zero. Rows of the image are short (LeNet's are 10-28
// elements), so they are copied by plain loops rather than memmove calls.
template <class T>
void im2col(const Geometry& g, const T* x, T* col, int64_t ld) {
  if constexpr (std::is_same_v<T, float>) {
    static const Im2colF32 fast = cpu_isa() == Isa::avx512 ? im2col_f32_avx512() : nullptr;
    if (fast != nullptr && g.sw == 1)
      return fast(Im2colShape{g.Cg, g.H, g.W, g.KH, g.KW, g.OH, g.OW, g.P, g.sh, g.ph, g.pw, g.dh, g.dw}, x, col, ld);
  }
  for (int64_t c = 0; c < g.Cg; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        T* row = col + ((c * g.KH + kh) * g.KW + kw) * ld;
        std::fill(row + g.P, row + ld, T(0));
        const int64_t iw0 = kw * g.dw - g.pw;
        // output columns whose input column lies inside the image
        const int64_t lo = std::min<int64_t>(g.OW, iw0 >= 0 ? 0 : (-iw0 + g.sw - 1) / g.sw);
        const int64_t hi = std::max<int64_t>(lo, std::min<int64_t>(g.OW, (g.W - 1 - iw0) / g.sw + 1));
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          T* dst = row + oh * g.OW;
          const int64_t ih = oh * g.sh - g.ph + kh * g.dh;
          if (ih < 0 || ih >= g.H || g.W - 1 - iw0 < 0) {
            for (int64_t ow = 0; ow < g.OW; ++ow) dst[ow] = T(0);
            continue;
          }
          const T* src = x + (c * g.H + ih) * g.W + iw0;
          for (int64_t ow = 0; ow < lo; ++ow) dst[ow] = T(0);
          if (g.sw == 1) {
            std::copy(src + lo, src + hi, dst + lo);
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * g.sw];
          }
          for (int64_t ow = hi; ow < g.OW; ++ow) dst[ow] = T(0);
        }
      }
}

// dx[c][ih][iw] += col[...] for the same mapping (dx must be zeroed by the caller).
template <class T>
void col2im(const Geometry& g, const T* col, T* dx) {
  for (int64_t c = 0; c < g.Cg; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const T* row = col + ((c * g.KH + kh) * g.KW + kw) * g.P;
        const int64_t iw0 = kw * g.dw - g.pw;
        const int64_t lo = std::min<int64_t>(g.OW, iw0 >= 0 ? 0 : (-iw0 + g.sw - 1) / g.sw);
        const int64_t hi = std::max<int64_t>(lo, std::min<int64_t>(g.OW, (g.W - 1 - iw0) / g.sw + 1));
        if (g.W - 1 - iw0 < 0) continue;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.sh - g.ph + kh * g.dh;
          if (ih < 0 || ih >= g.H) continue;
          T* dst = dx + (c * g.H + ih) * g.W + iw0;
          const T* src = row + oh * g.OW;
          for (int64_t ow = lo; ow < hi; ++ow) dst[ow * g.sw] += src[ow];
        }
      }
}

// Per-thread im2col buffers, kept between calls so the steady state allocates nothing.
template <class T>
T* col_scratch(size_t size) {
  thread_local std::vector<T> buffer;
  if (buffer.size() < size) buffer.resize(size);
  return buffer.data();
}

// Runs body(n, grp, parallel_gemm, col_buffer) for every image and group: in parallel with serial
// GEMMs when there are enough (image, group) pairs, else one at a time with a parallel GEMM. The
// col buffer holds Kd rows of ld elements.
template <class T, class Body>
void for_each_image(const Geometry& g, bool need_col, int64_t ld, Body body) {
  const int64_t units = g.N * g.groups;
  const size_t col_size = need_col && !g.direct ? static_cast<size_t>(g.Kd * ld) : 0;
  const double work = static_cast<double>(g.Og) * g.P * g.Kd;
  const bool outer = units > 1 && (units >= 2 * num_threads() || work < 1.0e6);
  if (!outer) {
    T* col = col_scratch<T>(col_size);
    for (int64_t u = 0; u < units; ++u) body(u / g.groups, u % g.groups, true, col);
    return;
  }
  const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(262144.0 / std::max(work, 1.0)));
  parallel_range(units, grain, [&](int64_t s, int64_t e) {
    T* col = col_scratch<T>(col_size);
    for (int64_t u = s; u < e; ++u) body(u / g.groups, u % g.groups, false, col);
  });
}

// Rows of the im2col buffer padded so that the GEMM reads every column panel in place.
int64_t col_ld(const Geometry& g) { return (g.P + kGemmColumnPad - 1) / kGemmColumnPad * kGemmColumnPad; }

template <class T>
void forward(const Geometry& g, const T* x, const T* w, T* y) {
  std::vector<PackedA<T>> weights;  // each group's [Og x Kd] weights, packed once for all images
  weights.reserve(static_cast<size_t>(g.groups));
  for (int64_t grp = 0; grp < g.groups; ++grp) weights.emplace_back(g.Og, g.Kd, w + grp * g.Og * g.Kd, g.Kd, 1);
  const int64_t ld = g.direct ? g.P : col_ld(g);
  for_each_image<T>(g, true, ld, [&](int64_t n, int64_t grp, bool par, T* col) {
    const T* xg = x + (n * g.C + grp * g.Cg) * g.H * g.W;
    if (!g.direct) im2col(g, xg, col, ld);
    gemm<T>(weights[static_cast<size_t>(grp)], g.P, g.direct ? xg : col, ld, 1, ld,
            y + (n * g.O + grp * g.Og) * g.P, g.P, false, par);
  });
}

template <class T>
void backward_input(const Geometry& g, const T* dy, const T* w, T* dx) {
  std::vector<PackedA<T>> weights;  // each group's w^T [Kd x Og], packed once for all images
  weights.reserve(static_cast<size_t>(g.groups));
  for (int64_t grp = 0; grp < g.groups; ++grp) weights.emplace_back(g.Kd, g.Og, w + grp * g.Og * g.Kd, 1, g.Kd);
  for_each_image<T>(g, true, g.P, [&](int64_t n, int64_t grp, bool par, T* col) {
    T* dxg = dx + (n * g.C + grp * g.Cg) * g.H * g.W;
    const T* dyg = dy + (n * g.O + grp * g.Og) * g.P;
    const PackedA<T>& wt = weights[static_cast<size_t>(grp)];
    if (g.direct) {
      gemm<T>(wt, g.P, dyg, g.P, 1, g.P, dxg, g.P, false, par);
      return;
    }
    gemm<T>(wt, g.P, dyg, g.P, 1, g.P, col, g.P, false, par);
    std::fill(dxg, dxg + g.Cg * g.H * g.W, T(0));
    col2im(g, col, dxg);
  });
}

template <class T>
void backward_weight(const Geometry& g, const T* dy, const T* x, T* dw) {
  const int64_t wsize = g.O * g.Kd;
  const int64_t chunks = std::min<int64_t>(g.N, 8);
  auto run_images = [&](int64_t n0, int64_t n1, T* dst, bool par) {
    std::vector<T> col(g.direct ? 0 : static_cast<size_t>(g.Kd * g.P));
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        const T* xg = x + (n * g.C + grp * g.Cg) * g.H * g.W;
        if (!g.direct) im2col(g, xg, col.data(), g.P);
        gemm<T>(g.Og, g.Kd, g.P, dy + (n * g.O + grp * g.Og) * g.P, g.P, 1, g.direct ? xg : col.data(), 1, g.P,
                dst + grp * g.Og * g.Kd, g.Kd, n > n0, par);
      }
  };
  if (g.N == 0) {
    std::fill(dw, dw + wsize, T(0));
    return;
  }
  if (chunks <= 1 || num_threads() <= 1) {
    run_images(0, g.N, dw, true);
    return;
  }
  std::vector<T> partial(static_cast<size_t>(chunks * wsize));
  parallel_chunks(chunks, [&](int64_t c) {
    run_images(c * g.N / chunks, (c + 1) * g.N / chunks, partial.data() + c * wsize, false);
  });
  for (int64_t i = 0; i < wsize; ++i) {
    T s = partial[i];
    for (int64_t c = 1; c < chunks; ++c) s += partial[c * wsize + i];
    dw[i] = s;
  }
}

}  // namespace

void launch_conv(kiln_op op, const Desc& in0, const Desc& in1, const Desc& out, const kiln_conv2d_attrs& attrs) {
  dispatch_float(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    DenseInput a(in0), b(in1);
    switch (op) {
      case KILN_OP_CONV2D: {
        const Geometry g = geometry(in0, in1, out, attrs, op);
        if (numel(out) == 0) return;
        return forward(g, a.data<T>(), b.data<T>(), base_ptr<T>(out));
      }
      case KILN_OP_CONV2D_BACKWARD_INPUT: {
        const Geometry g = geometry(out, in1, in0, attrs, op);
        if (numel(out) == 0) return;
        if (numel(in0) == 0 || g.Kd == 0) {
          std::fill(base_ptr<T>(out), base_ptr<T>(out) + numel(out), T(0));
          return;
        }
        return backward_input(g, a.data<T>(), b.data<T>(), base_ptr<T>(out));
      }
      case KILN_OP_CONV2D_BACKWARD_WEIGHT: {
        const Geometry g = geometry(in1, out, in0, attrs, op);
        if (numel(out) == 0) return;
        return backward_weight(g, a.data<T>(), b.data<T>(), base_ptr<T>(out));
      }
      default: fail(KILN_STATUS_UNSUPPORTED, "tbb: ", op_name(op), " is not a convolution");
    }
  });
}

}  // namespace kiln::tbbk
