// CONV2D and both backwards by im2col + cblas GEMM, one image and group at a time (OpenBLAS
// threads each GEMM). Same decomposition as the tbb backend (see backends/tbb/conv.cpp):
//   forward  y[n, g]  = w[g] (Og x Kd) * col (Kd x P)
//   input    dx[n, g] = col2im(w[g]^T * dy[n, g])
//   weight   dw[g]   += dy[n, g] * col^T
#include <algorithm>

#include "common.hpp"

namespace kiln::blas {
namespace {

struct Geometry {
  int64_t N, C, H, W, O, KH, KW, OH, OW, groups, Cg, Og, P, Kd;
  int64_t sh, sw, ph, pw, dh, dw;
};

Geometry geometry(const Desc& x, const Desc& w, const Desc& y, const kiln_conv2d_attrs& a, kiln_op op) {
  if (x.ndim != 4 || w.ndim != 4 || y.ndim != 4)
    fail(KILN_STATUS_INVALID_ARGUMENT, "blas: ", op_name(op), " expects 4-d NCHW tensors");
  Geometry g{};
  g.N = x.shape[0], g.C = x.shape[1], g.H = x.shape[2], g.W = x.shape[3];
  g.O = w.shape[0], g.KH = w.shape[2], g.KW = w.shape[3], g.OH = y.shape[2], g.OW = y.shape[3];
  g.groups = a.groups, g.sh = a.stride[0], g.sw = a.stride[1], g.ph = a.padding[0], g.pw = a.padding[1];
  g.dh = a.dilation[0], g.dw = a.dilation[1];
  if (g.groups < 1 || g.C % g.groups != 0 || g.O % g.groups != 0 || w.shape[1] * g.groups != g.C ||
      y.shape[0] != g.N || y.shape[1] != g.O || g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1)
    fail(KILN_STATUS_INVALID_ARGUMENT, "blas: ", op_name(op), ": inconsistent shapes or attributes (C=", g.C, ", O=",
         g.O, ", weight C/groups=", w.shape[1], ", groups=", g.groups, ")");
  g.Cg = g.C / g.groups, g.Og = g.O / g.groups, g.P = g.OH * g.OW, g.Kd = g.Cg * g.KH * g.KW;
  to_blasint(g.P, op), to_blasint(g.Kd, op), to_blasint(g.Og, op);
  return g;
}

// Calls fn(row, oh, src_row_or_null, iw0) for each (c, kh, kw, oh): the rows of col.
template <class Fn>
void for_each_col_row(const Geometry& g, Fn fn) {
  for (int64_t c = 0; c < g.Cg; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const int64_t r = (c * g.KH + kh) * g.KW + kw;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.sh - g.ph + kh * g.dh;
          fn(r, oh, (ih >= 0 && ih < g.H) ? (c * g.H + ih) * g.W : -1, kw * g.dw - g.pw);
        }
      }
}

template <class T>
void im2col(const Geometry& g, const T* x, T* col) {
  for_each_col_row(g, [&](int64_t r, int64_t oh, int64_t src, int64_t iw0) {
    T* dst = col + r * g.P + oh * g.OW;
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      const int64_t iw = ow * g.sw + iw0;
      dst[ow] = (src >= 0 && iw >= 0 && iw < g.W) ? x[src + iw] : T(0);
    }
  });
}

template <class T>
void col2im(const Geometry& g, const T* col, T* dx) {
  for_each_col_row(g, [&](int64_t r, int64_t oh, int64_t src, int64_t iw0) {
    if (src < 0) return;
    const T* row = col + r * g.P + oh * g.OW;
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      const int64_t iw = ow * g.sw + iw0;
      if (iw >= 0 && iw < g.W) dx[src + iw] += row[ow];
    }
  });
}

template <class T>
void conv(kiln_op op, const Desc& in0, const Desc& in1, const Desc& out, const kiln_conv2d_attrs& attrs) {
  const Dense<T> a(in0), b(in1);
  T* po = base_ptr<T>(out);
  if (numel(out) == 0) return;
  switch (op) {
    case KILN_OP_CONV2D: {
      const Geometry g = geometry(in0, in1, out, attrs, op);
      std::vector<T> col(static_cast<size_t>(g.Kd * g.P));
      for (int64_t n = 0; n < g.N; ++n)
        for (int64_t grp = 0; grp < g.groups; ++grp) {
          im2col(g, a.get() + (n * g.C + grp * g.Cg) * g.H * g.W, col.data());
          T* y = po + (n * g.O + grp * g.Og) * g.P;
          if (g.Kd == 0) {
            std::fill(y, y + g.Og * g.P, T(0));
            continue;
          }
          gemm(CblasNoTrans, CblasNoTrans, g.Og, g.P, g.Kd, b.get() + grp * g.Og * g.Kd, g.Kd, col.data(), g.P, T(0),
               y, g.P);
        }
      return;
    }
    case KILN_OP_CONV2D_BACKWARD_INPUT: {
      const Geometry g = geometry(out, in1, in0, attrs, op);
      std::fill(po, po + numel(out), T(0));
      if (g.P == 0 || g.Og == 0 || g.Kd == 0) return;
      std::vector<T> col(static_cast<size_t>(g.Kd * g.P));
      for (int64_t n = 0; n < g.N; ++n)
        for (int64_t grp = 0; grp < g.groups; ++grp) {
          gemm(CblasTrans, CblasNoTrans, g.Kd, g.P, g.Og, b.get() + grp * g.Og * g.Kd, g.Kd,
               a.get() + (n * g.O + grp * g.Og) * g.P, g.P, T(0), col.data(), g.P);
          col2im(g, col.data(), po + (n * g.C + grp * g.Cg) * g.H * g.W);
        }
      return;
    }
    case KILN_OP_CONV2D_BACKWARD_WEIGHT: {
      const Geometry g = geometry(in1, out, in0, attrs, op);
      std::fill(po, po + numel(out), T(0));
      if (g.P == 0) return;
      std::vector<T> col(static_cast<size_t>(g.Kd * g.P));
      for (int64_t n = 0; n < g.N; ++n)
        for (int64_t grp = 0; grp < g.groups; ++grp) {
          im2col(g, b.get() + (n * g.C + grp * g.Cg) * g.H * g.W, col.data());
          gemm(CblasNoTrans, CblasTrans, g.Og, g.Kd, g.P, a.get() + (n * g.O + grp * g.Og) * g.P, g.P, col.data(),
               g.P, T(1), po + grp * g.Og * g.Kd, g.Kd);
        }
      return;
    }
    default: fail(KILN_STATUS_UNSUPPORTED, "blas: ", op_name(op), " is not a convolution");
  }
}

}  // namespace

void launch_conv(kiln_op op, const Desc& in0, const Desc& in1, const Desc& out, const kiln_conv2d_attrs& attrs) {
  if (out.dtype == KILN_DTYPE_FLOAT32) conv<float>(op, in0, in1, out, attrs);
  else conv<double>(op, in0, in1, out, attrs);
}

}  // namespace kiln::blas
