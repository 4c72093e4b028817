// MAXPOOL2D, AVGPOOL2D and their backwards, NCHW; every (n, c) plane is independent, so planes
// run in parallel and each plane's gradient is accumulated serially (deterministic).
#include <atomic>

#include "ops.hpp"
#include "pool_kernels.hpp"

namespace kiln::tbbk {
namespace {

struct Window {
  int64_t H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw;
  bool include_pad;
};

Window window(const Desc& x, const Desc& y, const kiln_pool2d_attrs& a, kiln_op op) {
  if (x.ndim != 4 || y.ndim != 4 || x.shape[0] != y.shape[0] || x.shape[1] != y.shape[1])
    fail(KILN_STATUS_INVALID_ARGUMENT, "tbb: ", op_name(op), " expects 4-d NCHW input and output with equal N, C");
  Window w{x.shape[2], x.shape[3], y.shape[2], y.shape[3], a.kernel[0], a.kernel[1], a.stride[0], a.stride[1],
           a.padding[0], a.padding[1], a.dilation[0], a.dilation[1], a.count_include_pad != 0};
  if (w.kh < 1 || w.kw < 1 || w.sh < 1 || w.sw < 1)
    fail(KILN_STATUS_INVALID_ARGUMENT, "tbb: ", op_name(op), ": kernel and stride must be positive");
  if (op == KILN_OP_MAXPOOL2D || op == KILN_OP_MAXPOOL2D_BACKWARD) {
    if (w.dh < 1 || w.dw < 1) fail(KILN_STATUS_INVALID_ARGUMENT, "tbb: ", op_name(op), ": dilation must be positive");
  }
  return w;
}

// Note [2x2 max pool fast path]: the 2x2, stride-2, unpadded, undilated max pool (LeNet's, VGG's)
// has non-overlapping windows, so a row of windows is two input rows split into even and odd
// columns: the row kernels of pool_kernels.hpp do it 8 or 16 windows at a time, and the backward
// writes each window's four gradient cells directly instead of zero-filling and scattering. Only
// windows wholly inside the image take it; the rest of the plane (an odd last row or column, the
// extra windows of ceil mode) goes through the general per-window code, whose rule the row kernels
// share (first maximum wins, first NaN beats everything, same indices).
struct Fast2x2 {
  int64_t rows = 0, cols = 0;  // output rows and columns whose windows lie inside the image
};
Fast2x2 fast_2x2(const Window& w) {
  if (w.kh != 2 || w.kw != 2 || w.sh != 2 || w.sw != 2 || w.ph != 0 || w.pw != 0 || w.dh != 1 || w.dw != 1 ||
      w.W + 1 > std::numeric_limits<int32_t>::max())  // the AVX kernels hold offsets in 32 bits
    return {};
  return {std::min(w.OH, w.H / 2), std::min(w.OW, w.W / 2)};
}

template <class T>
void maxpool2x2_rows(const T* r0, int64_t W, int64_t n, int64_t base, T* y, int64_t* idx) {
  if constexpr (std::is_same_v<T, float>) {
    const MaxPool2x2Kernels& k = maxpool2x2_kernels();
    if (k.forward != nullptr) return k.forward(r0, W, n, base, y, idx);
  }
  maxpool2x2_row(r0, W, n, base, y, idx);
}
template <class T>
bool maxpool2x2_backward_rows(const T* dy, const int64_t* idx, int64_t W, int64_t n, int64_t base, T* dx0) {
  if constexpr (std::is_same_v<T, float>) {
    const MaxPool2x2Kernels& k = maxpool2x2_kernels();
    if (k.backward != nullptr) return k.backward(dy, idx, W, n, base, dx0);
  }
  return maxpool2x2_backward_row(dy, idx, W, n, base, dx0);
}

// One output cell of any window: its max and the plane index of the max.
template <class T>
inline void maxpool_cell(const Window& w, const T* xp, int64_t oh, int64_t ow, T* y, int64_t* idx) {
  const int64_t h0 = oh * w.sh - w.ph, w0 = ow * w.sw - w.pw;
  if (h0 >= 0 && w0 >= 0 && h0 + (w.kh - 1) * w.dh < w.H && w0 + (w.kw - 1) * w.dw < w.W) {
    // Interior window (LeNet's and ResNet's pools, almost everywhere): no bounds checks.
    // The same rule: the first maximum wins, and the first NaN beats everything.
    const T* cell = xp + h0 * w.W + w0;
    T best = cell[0];
    int64_t at = 0;
    for (int64_t i = 0; i < w.kh && best == best; ++i) {
      const T* row = cell + i * w.dh * w.W;
      for (int64_t j = (i == 0 ? 1 : 0); j < w.kw; ++j) {
        const T v = row[j * w.dw];
        if (v > best || v != v) {
          best = v;
          at = i * w.dh * w.W + j * w.dw;
          if (v != v) break;
        }
      }
    }
    *y = best;
    *idx = h0 * w.W + w0 + at;
    return;
  }
  T best = -std::numeric_limits<T>::infinity();
  int64_t at = -1;
  bool done = false;
  for (int64_t i = 0; i < w.kh && !done; ++i) {
    const int64_t h = h0 + i * w.dh;
    if (h < 0 || h >= w.H) continue;
    for (int64_t j = 0; j < w.kw; ++j) {
      const int64_t c = w0 + j * w.dw;
      if (c < 0 || c >= w.W) continue;
      const T v = xp[h * w.W + c];
      if (at < 0 || v > best || v != v) {  // padded cells never win; the first NaN wins
        best = v;
        at = h * w.W + c;
        if (v != v) {
          done = true;
          break;
        }
      }
    }
  }
  *y = best;
  *idx = at < 0 ? 0 : at;
}

template <class T>
void maxpool(const Window& w, int64_t planes, const T* x, T* y, int64_t* idx) {
  const int64_t plane_in = w.H * w.W, plane_out = w.OH * w.OW;
  const Fast2x2 fast = fast_2x2(w);
  parallel_range(planes, std::max<int64_t>(1, kGrainCheap / std::max<int64_t>(1, plane_out * w.kh * w.kw)),
                 [&](int64_t s, int64_t e) {
    for (int64_t p = s; p < e; ++p) {
      const T* xp = x + p * plane_in;
      T* yp = y + p * plane_out;
      int64_t* ip = idx + p * plane_out;
      for (int64_t oh = 0; oh < w.OH; ++oh) {
        int64_t ow = 0;
        if (oh < fast.rows && fast.cols > 0) {
          maxpool2x2_rows(xp + 2 * oh * w.W, w.W, fast.cols, 2 * oh * w.W, yp + oh * w.OW, ip + oh * w.OW);
          ow = fast.cols;
        }
        for (; ow < w.OW; ++ow) maxpool_cell(w, xp, oh, ow, yp + oh * w.OW + ow, ip + oh * w.OW + ow);
      }
    }
  });
}

// dx[idx[o]] += dy[o] over the plane's outputs o, after zeroing dx.
template <class T>
void maxpool_scatter(int64_t plane_in, int64_t plane_out, const T* dy, const int64_t* idx, T* dx) {
  std::fill(dx, dx + plane_in, T(0));
  for (int64_t o = 0; o < plane_out; ++o) dx[idx[o]] += dy[o];
}

// The first out-of-range index, named by its position whatever the thread count.
void check_indices(int64_t plane_in, int64_t count, const int64_t* idx) {
  for (int64_t i = 0; i < count; ++i)
    if (idx[i] < 0 || idx[i] >= plane_in)
      fail(KILN_STATUS_INVALID_ARGUMENT, "tbb: maxpool2d_backward: index ", idx[i], " at position ", i,
           " is out of range [0, ", plane_in, ")");
}

// Note [2x2 max pool fast path]: a plane whose in-image windows all hold their own index gets
// direct writes; the remaining cells are zeroed and the edge windows scattered into them. A plane
// with any other index (possible only for indices not made by the forward) takes the scatter.
template <class T>
bool maxpool2x2_backward_plane(const Window& w, const Fast2x2& fast, const T* dy, const int64_t* idx, T* dx) {
  const int64_t plane_in = w.H * w.W;
  for (int64_t oh = 0; oh < fast.rows; ++oh)
    if (!maxpool2x2_backward_rows(dy + oh * w.OW, idx + oh * w.OW, w.W, fast.cols, 2 * oh * w.W, dx + 2 * oh * w.W))
      return false;
  // cells outside the fast windows: the odd last column of the fast rows, then every row below
  if (2 * fast.cols < w.W)
    for (int64_t h = 0; h < 2 * fast.rows; ++h) std::fill(dx + h * w.W + 2 * fast.cols, dx + (h + 1) * w.W, T(0));
  std::fill(dx + 2 * fast.rows * w.W, dx + plane_in, T(0));
  for (int64_t oh = 0; oh < w.OH; ++oh)
    for (int64_t ow = oh < fast.rows ? fast.cols : 0; ow < w.OW; ++ow) {
      const int64_t i = idx[oh * w.OW + ow];
      if (i < 0 || i >= plane_in) return false;
      dx[i] += dy[oh * w.OW + ow];
    }
  return true;
}

template <class T>
void maxpool_backward(const Window& w, int64_t planes, const T* dy, const int64_t* idx, T* dx) {
  const int64_t plane_in = w.H * w.W, plane_out = w.OH * w.OW;
  const int64_t grain = std::max<int64_t>(1, kGrainCheap / std::max<int64_t>(1, plane_in + plane_out));
  const Fast2x2 fast = fast_2x2(w);
  if (fast.rows > 0 && fast.cols > 0) {
    std::vector<uint8_t> redo(static_cast<size_t>(planes), 0);
    std::atomic<bool> any_redo{false};
    parallel_range(planes, grain, [&](int64_t s, int64_t e) {
      for (int64_t p = s; p < e; ++p)
        if (!maxpool2x2_backward_plane(w, fast, dy + p * plane_out, idx + p * plane_out, dx + p * plane_in)) {
          redo[static_cast<size_t>(p)] = 1;
          any_redo.store(true, std::memory_order_relaxed);
        }
    });
    if (!any_redo.load()) return;
    check_indices(plane_in, planes * plane_out, idx);
    parallel_range(planes, grain, [&](int64_t s, int64_t e) {
      for (int64_t p = s; p < e; ++p)
        if (redo[static_cast<size_t>(p)])
          maxpool_scatter(plane_in, plane_out, dy + p * plane_out, idx + p * plane_out, dx + p * plane_in);
    });
    return;
  }
  check_indices(plane_in, planes * plane_out, idx);  // first, so no thread has written anything
  parallel_range(planes, grain, [&](int64_t s, int64_t e) {
    for (int64_t p = s; p < e; ++p)
      maxpool_scatter(plane_in, plane_out, dy + p * plane_out, idx + p * plane_out, dx + p * plane_in);
  });
}

// PyTorch's avg_pool2d window: the divisor counts padded cells (within H + pad) or only valid ones.
struct AvgCell {
  int64_t h0, h1, w0, w1, divisor;
};
inline AvgCell avg_cell(const Window& w, int64_t oh, int64_t ow) {
  int64_t h0 = oh * w.sh - w.ph, w0 = ow * w.sw - w.pw;
  int64_t h1 = std::min(h0 + w.kh, w.H + w.ph), w1 = std::min(w0 + w.kw, w.W + w.pw);
  const int64_t pool_size = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0), w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, w.H), w1 = std::min(w1, w.W);
  const int64_t valid = std::max<int64_t>(0, h1 - h0) * std::max<int64_t>(0, w1 - w0);
  return {h0, h1, w0, w1, w.include_pad ? pool_size : valid};
}

template <class T>
void avgpool(const Window& w, int64_t planes, const T* x, T* y) {
  const int64_t plane_in = w.H * w.W, plane_out = w.OH * w.OW;
  parallel_range(planes, std::max<int64_t>(1, kGrainCheap / std::max<int64_t>(1, plane_out * w.kh * w.kw)),
                 [&](int64_t s, int64_t e) {
    for (int64_t p = s; p < e; ++p)
      for (int64_t oh = 0; oh < w.OH; ++oh)
        for (int64_t ow = 0; ow < w.OW; ++ow) {
          const AvgCell c = avg_cell(w, oh, ow);
          T out = 0;
          if (c.h0 < c.h1 && c.w0 < c.w1) {
            double sum = 0;
            for (int64_t h = c.h0; h < c.h1; ++h)
              for (int64_t j = c.w0; j < c.w1; ++j) sum += x[p * plane_in + h * w.W + j];
            out = static_cast<T>(sum / static_cast<double>(c.divisor));
          }
          y[p * plane_out + oh * w.OW + ow] = out;
        }
  });
}

template <class T>
void avgpool_backward(const Window& w, int64_t planes, const T* dy, T* dx) {
  const int64_t plane_in = w.H * w.W, plane_out = w.OH * w.OW;
  parallel_range(planes, std::max<int64_t>(1, kGrainCheap / std::max<int64_t>(1, plane_out * w.kh * w.kw)),
                 [&](int64_t s, int64_t e) {
    for (int64_t p = s; p < e; ++p) {
      T* dxp = dx + p * plane_in;
      std::fill(dxp, dxp + plane_in, T(0));
      for (int64_t oh = 0; oh < w.OH; ++oh)
        for (int64_t ow = 0; ow < w.OW; ++ow) {
          const AvgCell c = avg_cell(w, oh, ow);
          if (c.h0 >= c.h1 || c.w0 >= c.w1) continue;
          const T g = static_cast<T>(dy[p * plane_out + oh * w.OW + ow] / static_cast<double>(c.divisor));
          for (int64_t h = c.h0; h < c.h1; ++h)
            for (int64_t j = c.w0; j < c.w1; ++j) dxp[h * w.W + j] += g;
        }
    }
  });
}

}  // namespace

const MaxPool2x2Kernels& maxpool2x2_kernels() {
  static const MaxPool2x2Kernels k = [] {
    switch (cpu_isa()) {
      case Isa::avx512: return maxpool2x2_kernels_avx512();
      case Isa::avx2: return maxpool2x2_kernels_avx2();
      default: return MaxPool2x2Kernels{"generic"};
    }
  }();
  return k;
}

void launch_pool(kiln_op op, const Desc* inputs, const Desc* outputs, const kiln_pool2d_attrs& attrs) {
  dispatch_float(outputs[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    const Desc& big = (op == KILN_OP_MAXPOOL2D || op == KILN_OP_AVGPOOL2D) ? inputs[0] : outputs[0];
    const Desc& small = (op == KILN_OP_MAXPOOL2D || op == KILN_OP_AVGPOOL2D) ? outputs[0] : inputs[0];
    const Window w = window(big, small, attrs, op);
    const int64_t planes = big.shape[0] * big.shape[1];
    if (numel(outputs[0]) == 0) return;
    DenseInput in(inputs[0]);
    switch (op) {
      case KILN_OP_MAXPOOL2D:
        return maxpool(w, planes, in.data<T>(), base_ptr<T>(outputs[0]), base_ptr<int64_t>(outputs[1]));
      case KILN_OP_AVGPOOL2D: return avgpool(w, planes, in.data<T>(), base_ptr<T>(outputs[0]));
      case KILN_OP_AVGPOOL2D_BACKWARD: return avgpool_backward(w, planes, in.data<T>(), base_ptr<T>(outputs[0]));
      case KILN_OP_MAXPOOL2D_BACKWARD: {
        DenseInput idx(inputs[1]);
        return maxpool_backward(w, planes, in.data<T>(), idx.data<int64_t>(), base_ptr<T>(outputs[0]));
      }
      default: fail(KILN_STATUS_UNSUPPORTED, "tbb: ", op_name(op), " is not a pooling op");
    }
  });
}

}  // namespace kiln::tbbk
