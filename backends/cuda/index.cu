// GATHER, SCATTER_ADD, INDEX_SELECT, EMBEDDING and EMBEDDING_BACKWARD.
//
// Note [Index ops as strided elementwise loops]: each op is an elementwise loop over the index
// (or output) shape with three strided tensors, where the indexed tensor's stride along the
// indexed axis is set to 0 and the index value times that stride is added in the kernel. So the
// five ops share two functors and the generic elementwise launcher.
//
// Out-of-range indices (including negative ones) are skipped (a gathered element is 0) and the
// first one is recorded for the stream's next synchronize (Note [Deferred index errors] in
// index_check.hpp), which fails with KILN_STATUS_INDEX_OUT_OF_RANGE naming the op and the value.
//
// Note [Scatter-add is atomic]: SCATTER_ADD and EMBEDDING_BACKWARD add with atomics, so when
// several indices hit one cell the order of the float additions, and so the last bits of the
// result, may vary between runs. Integer results are exact.
#include "kernels.cuh"
#include "ops.hpp"

namespace kiln::cuda {
namespace {

// Records value, found at the kernel's row-major element `linear`, unless an earlier violation
// holds the record (Note [Deferred index errors] in index_check.hpp).
__device__ void report_index_error(const IndexCheck& c, int64_t value, int64_t linear) {
  const unsigned int old = atomicCAS(c.claim, 0u, c.claim_tag);
  if (old != 0u) {
    if (old != c.claim_tag) *reinterpret_cast<volatile int32_t*>(&c.record->more) = 1;  // another launch holds it
    return;
  }
  IndexErrorRecord* r = c.record;
  r->op = c.op;
  r->dim = c.dim;
  r->value = value;
  r->position = (linear / c.pos_inner) % c.pos_extent;
  r->bound = c.bound;
  r->launch_id = c.launch_id;
  r->seq = c.seq;
  r->index_ndim = c.index_ndim;
  for (int k = 0; k < KILN_MAX_DIMS; ++k) r->index_shape[k] = c.index_shape[k];
  __threadfence_system();  // the fields reach host memory before `set` does
  *reinterpret_cast<volatile int32_t*>(&r->set) = 1;
}

// out[off0] = src[off2 + index[off1] * axis_stride]
template <typename B>
struct GatherFn {
  static constexpr bool kWantsLinear = true;
  B* out;
  const int64_t* index;
  const B* src;
  int64_t axis_stride;
  IndexCheck check;
  template <typename I>
  __device__ void operator()(const I* off, int64_t linear) const {
    const int64_t i = index[off[1]];
    if (i < 0 || i >= check.bound) {
      report_index_error(check, i, linear);
      out[off[0]] = B(0);
      return;
    }
    out[off[0]] = src[off[2] + i * axis_stride];
  }
};

__device__ __forceinline__ void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(double* p, double v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(int32_t* p, int32_t v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(int64_t* p, int64_t v) {
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));  // wraps like int64
}
__device__ __forceinline__ void atomic_add(uint8_t* p, uint8_t v) {
  // No byte atomics: compare-and-swap the aligned word that holds the byte.
  const uintptr_t address = reinterpret_cast<uintptr_t>(p);
  auto* word = reinterpret_cast<unsigned int*>(address & ~uintptr_t{3});
  const unsigned shift = static_cast<unsigned>(address & 3) * 8;
  unsigned old = *word, assumed;
  do {
    assumed = old;
    const unsigned byte = ((assumed >> shift) + v) & 0xffu;
    old = atomicCAS(word, assumed, (assumed & ~(0xffu << shift)) | (byte << shift));
  } while (assumed != old);
}

// dst[off2 + index[off1] * axis_stride] += src[off0], unless index == skip
template <typename T>
struct ScatterAddFn {
  static constexpr bool kWantsLinear = true;
  const T* src;
  const int64_t* index;
  T* dst;
  int64_t axis_stride;
  int64_t skip;  // EMBEDDING_BACKWARD's padding_idx; -1: none
  IndexCheck check;
  template <typename I>
  __device__ void operator()(const I* off, int64_t linear) const {
    const int64_t i = index[off[1]];
    if (i == skip && skip >= 0) return;
    if (i < 0 || i >= check.bound) {
      report_index_error(check, i, linear);
      return;
    }
    atomic_add(dst + off[2] + i * axis_stride, src[off[0]]);
  }
};

[[noreturn]] void shape_error(const Context& ctx, const char* what, const kiln_tensor_desc& a,
                              const kiln_tensor_desc& b) {
  fail(KILN_STATUS_INVALID_ARGUMENT, "cuda: ", ctx.op_name, ": ", what, " (shapes ", shape_string(a), " and ",
       shape_string(b), ")");
}


// A descriptor with `shape` and the strides of `d` for its dims, where dims are mapped: stride of
// dim k of the result is d.strides[map[k]] (map[k] < 0: 0, i.e. broadcast).
kiln_tensor_desc view_as(const kiln_tensor_desc& d, const kiln_tensor_desc& shape, const int32_t* map) {
  kiln_tensor_desc v = shape;
  v.data = d.data;
  v.dtype = d.dtype;
  v.offset = d.offset;
  for (int32_t k = 0; k < shape.ndim; ++k) v.strides[k] = map[k] < 0 ? 0 : d.strides[map[k]];
  return v;
}

}  // namespace

void run_index(const Context& ctx, const kiln_tensor_desc* in, const kiln_tensor_desc& out, const void* attrs) {
  int32_t identity[KILN_MAX_DIMS + 1];
  for (int32_t k = 0; k <= KILN_MAX_DIMS; ++k) identity[k] = k;
  switch (ctx.op) {
    case KILN_OP_GATHER:
    case KILN_OP_INDEX_SELECT: {
      const kiln_tensor_desc &src = in[0], &index = in[1];
      const int32_t axis = static_cast<const kiln_axis_attrs*>(attrs)->axis;
      if (axis < 0 || axis >= src.ndim || out.ndim != src.ndim)
        shape_error(ctx, "axis out of range or ranks differ", src, out);
      kiln_tensor_desc index_view = index;
      if (ctx.op == KILN_OP_GATHER) {
        if (!same_shape(index, out)) shape_error(ctx, "output shape must equal index shape", index, out);
        for (int32_t d = 0; d < src.ndim; ++d)
          if (d != axis && index.shape[d] > src.shape[d]) shape_error(ctx, "index larger than input", index, src);
      } else {
        if (index.ndim > 1) shape_error(ctx, "index must be 1-D", index, out);
        for (int32_t d = 0; d < src.ndim; ++d)
          if (out.shape[d] != (d == axis ? numel(index) : src.shape[d]))
            shape_error(ctx, "output shape must be the input's with the axis replaced by the index length", src, out);
        int32_t map[KILN_MAX_DIMS];
        for (int32_t d = 0; d < out.ndim; ++d) map[d] = -1;
        kiln_tensor_desc one = index;  // index as a 1-D view, broadcast along every other dim
        if (index.ndim == 0) {
          one.ndim = 1;
          one.shape[0] = 1;
          one.strides[0] = 0;
        }
        map[axis] = 0;
        index_view = view_as(one, out, map);
      }
      kiln_tensor_desc src_view = view_as(src, out, identity);
      src_view.strides[axis] = 0;
      if (numel(out) == 0) return;
      // The position in the index tensor: gather walks it element by element (out has its shape);
      // index_select's position is the output's coordinate along the axis.
      int64_t inner = 1;
      if (ctx.op == KILN_OP_INDEX_SELECT)
        for (int32_t d = axis + 1; d < out.ndim; ++d) inner *= out.shape[d];
      const IndexCheck check = index_check(ctx, axis, src.shape[axis], index, inner,
                                           ctx.op == KILN_OP_INDEX_SELECT ? out.shape[axis] : numel(out));
      dispatch_bits(ctx, out.dtype, [&](auto tag) {
        using B = typename decltype(tag)::type;
        GatherFn<B> f{base_ptr_as<B>(out), base_ptr_as<int64_t>(index_view), base_ptr_as<B>(src_view),
                      src.strides[axis], check};
        const kiln_tensor_desc* descs[3] = {&out, &index_view, &src_view};
        launch_elementwise<3>(ctx, descs, f, "gather_kernel");
      });
      return;
    }
    case KILN_OP_EMBEDDING: {
      const kiln_tensor_desc &weight = in[0], &index = in[1];
      if (weight.ndim != 2 || out.ndim != index.ndim + 1 || out.shape[out.ndim - 1] != weight.shape[1])
        shape_error(ctx, "expected weight [V, D], index [...] and output [..., D]", weight, out);
      for (int32_t d = 0; d < index.ndim; ++d)
        if (out.shape[d] != index.shape[d]) shape_error(ctx, "output must be index shape + [D]", index, out);
      int32_t map[KILN_MAX_DIMS];
      for (int32_t d = 0; d < out.ndim; ++d) map[d] = d < index.ndim ? d : -1;
      kiln_tensor_desc index_view = view_as(index, out, map);
      for (int32_t d = 0; d < out.ndim; ++d) map[d] = d < index.ndim ? -1 : 1;
      kiln_tensor_desc weight_view = view_as(weight, out, map);
      if (numel(out) == 0) return;
      const IndexCheck check = index_check(ctx, 0, weight.shape[0], index, weight.shape[1], numel(index));
      dispatch_bits(ctx, out.dtype, [&](auto tag) {
        using B = typename decltype(tag)::type;
        GatherFn<B> f{base_ptr_as<B>(out), base_ptr_as<int64_t>(index_view), base_ptr_as<B>(weight_view),
                      weight.strides[0], check};
        const kiln_tensor_desc* descs[3] = {&out, &index_view, &weight_view};
        launch_elementwise<3>(ctx, descs, f, "embedding_kernel");
      });
      return;
    }
    case KILN_OP_SCATTER_ADD: {
      const kiln_tensor_desc &self = in[0], &index = in[1], &src = in[2];
      const int32_t axis = static_cast<const kiln_axis_attrs*>(attrs)->axis;
      if (axis < 0 || axis >= self.ndim || index.ndim != self.ndim || src.ndim != self.ndim)
        shape_error(ctx, "axis out of range or ranks differ", self, index);
      if (!same_shape(self, out)) shape_error(ctx, "output shape must equal self shape", self, out);
      for (int32_t d = 0; d < self.ndim; ++d)
        if (index.shape[d] > src.shape[d] || (d != axis && index.shape[d] > self.shape[d]))
          shape_error(ctx, "index larger than src or self", index, src);
      run_copy(ctx, self, out);
      if (numel(index) == 0) return;
      kiln_tensor_desc src_view = view_as(src, index, identity);
      kiln_tensor_desc out_view = view_as(out, index, identity);
      out_view.strides[axis] = 0;
      const IndexCheck check = index_check(ctx, axis, out.shape[axis], index, 1, numel(index));
      dispatch_numeric(ctx, out.dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        ScatterAddFn<T> f{base_ptr_as<T>(src_view), base_ptr_as<int64_t>(index), base_ptr_as<T>(out_view),
                          out.strides[axis], -1, check};
        const kiln_tensor_desc* descs[3] = {&src_view, &index, &out_view};
        launch_elementwise<3>(ctx, descs, f, "scatter_add_kernel");
      });
      return;
    }
    case KILN_OP_EMBEDDING_BACKWARD: {
      const kiln_tensor_desc &dy = in[0], &index = in[1];
      const int64_t padding_idx = static_cast<const kiln_embedding_attrs*>(attrs)->padding_idx;
      if (out.ndim != 2 || dy.ndim != index.ndim + 1 || dy.shape[dy.ndim - 1] != out.shape[1])
        shape_error(ctx, "expected dy [..., D], index [...] and dW [V, D]", dy, out);
      for (int32_t d = 0; d < index.ndim; ++d)
        if (dy.shape[d] != index.shape[d]) shape_error(ctx, "dy must be index shape + [D]", index, dy);
      zero_bytes(ctx, base_ptr(out), static_cast<size_t>(numel(out)) * kiln_dtype_size(out.dtype));
      if (numel(dy) == 0) return;
      int32_t map[KILN_MAX_DIMS];
      for (int32_t d = 0; d < dy.ndim; ++d) map[d] = d < index.ndim ? d : -1;
      kiln_tensor_desc index_view = view_as(index, dy, map);
      for (int32_t d = 0; d < dy.ndim; ++d) map[d] = d < index.ndim ? -1 : 1;
      kiln_tensor_desc out_view = view_as(out, dy, map);
      const IndexCheck check = index_check(ctx, 0, out.shape[0], index, dy.shape[dy.ndim - 1], numel(index));
      dispatch_float(ctx, out.dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        ScatterAddFn<T> f{base_ptr_as<T>(dy), base_ptr_as<int64_t>(index_view), base_ptr_as<T>(out_view),
                          out.strides[0], padding_idx, check};
        const kiln_tensor_desc* descs[3] = {&dy, &index_view, &out_view};
        launch_elementwise<3>(ctx, descs, f, "embedding_backward_kernel");
      });
      return;
    }
    default:
      fail(KILN_STATUS_INTERNAL, "cuda: ", ctx.op_name, " is not an index op (this is a bug in the cuda backend)");
  }
}

}  // namespace kiln::cuda
