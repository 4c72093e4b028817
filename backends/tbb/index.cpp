// GATHER, SCATTER_ADD, INDEX_SELECT, EMBEDDING, EMBEDDING_BACKWARD. Index tensors are int64;
// every index is checked before any output is written, so an error names the first bad position.
// The accumulating ops stay deterministic in parallel: SCATTER_ADD splits by the coordinates other
// than `axis` (each writes its own output line), EMBEDDING_BACKWARD by columns of the embedding;
// within a split, contributions are added in index order, exactly as a serial loop would.
#include "ops.hpp"

namespace kiln::tbbk {
namespace {

void check_indices(kiln_op op, const int64_t* idx, int64_t n, int64_t limit, int64_t skip = INT64_MIN) {
  for (int64_t i = 0; i < n; ++i)
    if ((idx[i] < 0 || idx[i] >= limit) && idx[i] != skip)
      fail(KILN_STATUS_INDEX_OUT_OF_RANGE, "tbb: ", op_name(op), ": index ", idx[i], " at position ", i,
           " (row-major) of the index tensor is out of range [0, ", limit, ")");
}

// Unsigned storage type of an element size: data movement needs only the bytes.
template <class Fn>
void dispatch_size(int32_t dtype, Fn&& fn) {
  switch (kiln_dtype_size(dtype)) {
    case 1: fn(uint8_t{}); return;
    case 4: fn(uint32_t{}); return;
    case 8: fn(uint64_t{}); return;
    default: unexpected_dtype(dtype);
  }
}

// Offset in `d` (own strides) of the row-major position `m` of `shape`, with dim `axis` replaced.
inline int64_t offset_of(const Desc& d, const int64_t* shape, int ndim, int64_t m, int axis, int64_t at) {
  int64_t off = 0;
  for (int k = ndim - 1; k >= 0; --k) {
    const int64_t i = m % shape[k];
    m /= shape[k];
    off += (k == axis ? at : i) * d.strides[k];
  }
  return off;
}

void gather(const Desc& x, const Desc& index, const Desc& out, int axis) {
  DenseInput id(index);
  const int64_t* idx = id.data<int64_t>();
  const int64_t n = numel(out);
  check_indices(KILN_OP_GATHER, idx, n, x.shape[axis]);
  dispatch_size(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* px = base_ptr<const T>(x);
    T* po = base_ptr<T>(out);
    parallel_range(n, kGrainCheap / 4, [&](int64_t s, int64_t e) {
      for (int64_t m = s; m < e; ++m) po[m] = px[offset_of(x, out.shape, out.ndim, m, axis, idx[m])];
    });
  });
}

void scatter_add(const Desc& self, const Desc& index, const Desc& src, const Desc& out, int axis) {
  DenseInput id(index);
  const int64_t* idx = id.data<int64_t>();
  const int64_t n = numel(index);
  check_indices(KILN_OP_SCATTER_ADD, idx, n, out.shape[axis]);
  launch_copy(self, out);
  if (n == 0) return;
  const int64_t len = index.shape[axis];
  int64_t lines_shape[KILN_MAX_DIMS];  // the index shape with `axis` removed (extent 1)
  for (int k = 0; k < index.ndim; ++k) lines_shape[k] = k == axis ? 1 : index.shape[k];
  int64_t istride = 1;  // dense index: stride of `axis`
  for (int k = index.ndim - 1; k > axis; --k) istride *= index.shape[k];
  const int64_t lines = n / len;
  dispatch_numeric(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* ps = base_ptr<const T>(src);
    T* po = base_ptr<T>(out);
    parallel_range(lines, std::max<int64_t>(1, kGrainCheap / 4 / len), [&](int64_t s, int64_t e) {
      for (int64_t l = s; l < e; ++l) {
        // the line's first index position, row-major in the index shape
        int64_t m = 0, rem = l, scale = 1;
        for (int k = index.ndim - 1; k >= 0; --k) {
          const int64_t i = rem % lines_shape[k];
          rem /= lines_shape[k];
          m += i * scale;
          scale *= index.shape[k];
        }
        const int64_t src_off = offset_of(src, index.shape, index.ndim, m, axis, 0);
        const int64_t out_off = offset_of(out, index.shape, index.ndim, m, axis, 0);
        for (int64_t j = 0; j < len; ++j) {
          T& dst = po[out_off + idx[m + j * istride] * out.strides[axis]];
          dst = wrap_add(dst, ps[src_off + j * src.strides[axis]]);
        }
      }
    });
  });
}

void index_select(const Desc& x, const Desc& index, const Desc& out, int axis) {
  DenseInput id(index);
  const int64_t* idx = id.data<int64_t>();
  const int64_t len = numel(index);
  check_indices(KILN_OP_INDEX_SELECT, idx, len, x.shape[axis]);
  if (numel(out) == 0) return;
  DenseInput xd(x);
  int64_t outer = 1, inner = 1;
  for (int k = 0; k < axis; ++k) outer *= x.shape[k];
  for (int k = axis + 1; k < x.ndim; ++k) inner *= x.shape[k];
  const int64_t n = x.shape[axis];
  dispatch_size(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* px = xd.data<T>();
    T* po = base_ptr<T>(out);
    parallel_range(outer * len, std::max<int64_t>(1, kGrainCheap / inner), [&](int64_t s, int64_t e) {
      for (int64_t r = s; r < e; ++r) {
        const int64_t o = r / len, j = r % len;
        std::copy(px + (o * n + idx[j]) * inner, px + (o * n + idx[j] + 1) * inner, po + r * inner);
      }
    });
  });
}

void embedding(const Desc& weight, const Desc& index, const Desc& out) {
  if (weight.ndim != 2) fail(KILN_STATUS_INVALID_ARGUMENT, "tbb: embedding: weight must be 2-d [V, D]");
  DenseInput id(index);
  const int64_t* idx = id.data<int64_t>();
  const int64_t n = numel(index), V = weight.shape[0], D = weight.shape[1];
  check_indices(KILN_OP_EMBEDDING, idx, n, V);
  if (numel(out) == 0) return;
  DenseInput wd(weight);
  dispatch_size(weight.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* pw = wd.data<T>();
    T* po = base_ptr<T>(out);
    parallel_range(n, std::max<int64_t>(1, kGrainCheap / D), [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) std::copy(pw + idx[i] * D, pw + (idx[i] + 1) * D, po + i * D);
    });
  });
}

void embedding_backward(const Desc& dy, const Desc& index, const Desc& out, int64_t padding_idx) {
  if (out.ndim != 2) fail(KILN_STATUS_INVALID_ARGUMENT, "tbb: embedding_backward: output must be 2-d [V, D]");
  DenseInput id(index);
  const int64_t* idx = id.data<int64_t>();
  const int64_t n = numel(index), V = out.shape[0], D = out.shape[1];
  check_indices(KILN_OP_EMBEDDING_BACKWARD, idx, n, V, padding_idx >= 0 ? padding_idx : INT64_MIN);
  DenseInput g(dy);
  dispatch_numeric(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* pg = g.data<T>();
    T* po = base_ptr<T>(out);
    std::fill(po, po + V * D, T(0));
    if (n == 0 || D == 0) return;
    constexpr int64_t kCols = 64;
    const int64_t blocks = (D + kCols - 1) / kCols;
    parallel_range(blocks, std::max<int64_t>(1, kGrainCheap / std::max<int64_t>(1, n * kCols)), [&](int64_t s, int64_t e) {
      const int64_t c0 = s * kCols, c1 = std::min(D, e * kCols);
      for (int64_t i = 0; i < n; ++i) {
        if (padding_idx >= 0 && idx[i] == padding_idx) continue;
        T* row = po + idx[i] * D;
        const T* src = pg + i * D;
        for (int64_t c = c0; c < c1; ++c) row[c] = wrap_add(row[c], src[c]);
      }
    });
  });
}

}  // namespace

void launch_index(kiln_op op, const Desc* in, const Desc& out, const void* attrs) {
  if (op == KILN_OP_EMBEDDING) return embedding(in[0], in[1], out);
  if (op == KILN_OP_EMBEDDING_BACKWARD) {
    const int64_t pad = attrs ? static_cast<const kiln_embedding_attrs*>(attrs)->padding_idx : -1;
    return embedding_backward(in[0], in[1], out, pad);
  }
  const int axis = static_cast<const kiln_axis_attrs*>(attrs)->axis;
  const Desc& ref = op == KILN_OP_SCATTER_ADD ? out : in[0];
  if (axis < 0 || axis >= std::max(ref.ndim, 1) || (ref.ndim == 0))
    fail(KILN_STATUS_INVALID_ARGUMENT, "tbb: ", op_name(op), ": axis ", axis, " out of range for a ", ref.ndim,
         "-d tensor");
  switch (op) {
    case KILN_OP_GATHER: return gather(in[0], in[1], out, axis);
    case KILN_OP_SCATTER_ADD: return scatter_add(in[0], in[1], in[2], out, axis);
    case KILN_OP_INDEX_SELECT: return index_select(in[0], in[1], out, axis);
    default: fail(KILN_STATUS_UNSUPPORTED, "tbb: ", op_name(op), " is not an indexing op");
  }
}

}  // namespace kiln::tbbk
