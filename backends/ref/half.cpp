// float16 and bfloat16 in the reference backend. See Note [Half precision through float32].
#include <vector>

#include "kernels.hpp"
#include "strided.hpp"

namespace kiln::ref {
namespace {

float load_half(int32_t dtype, uint16_t bits) {
  return dtype == KILN_DTYPE_FLOAT16 ? kiln_f16_to_f32(bits) : kiln_bf16_to_f32(bits);
}
uint16_t store_half(int32_t dtype, float value) {
  return dtype == KILN_DTYPE_FLOAT16 ? kiln_f32_to_f16(value) : kiln_f32_to_bf16(value);
}

// A contiguous float32 copy of a half tensor (its logical elements, row-major).
kiln_tensor_desc widen(const char* op, const char* role, const kiln_tensor_desc& d, std::vector<float>& storage) {
  check_desc(op, role, d);
  storage.resize(static_cast<size_t>(numel(d)));
  const auto* src = static_cast<const uint16_t*>(d.data);
  float* dst = storage.data();
  walk(d.ndim, d.shape, std::array<Operand, 1>{operand(d)},
       [&](const int64_t*, const std::array<int64_t, 1>& off) { *dst++ = load_half(d.dtype, src[off[0]]); });
  kiln_tensor_desc f = d;
  f.dtype = KILN_DTYPE_FLOAT32;
  f.data = storage.data();
  f.buffer = nullptr;
  f.byte_offset = 0;
  f.offset = 0;
  int64_t stride = 1;
  for (int32_t k = d.ndim - 1; k >= 0; --k) {
    f.strides[k] = stride;
    stride *= d.shape[k];
  }
  return f;
}

// Rounds the float32 results back into the half tensor, through its own strides.
void narrow(const kiln_tensor_desc& d, const std::vector<float>& storage) {
  auto* dst = static_cast<uint16_t*>(d.data);
  const float* src = storage.data();
  walk(d.ndim, d.shape, std::array<Operand, 1>{operand(d)},
       [&](const int64_t*, const std::array<int64_t, 1>& off) { dst[off[0]] = store_half(d.dtype, *src++); });
}

}  // namespace

bool has_half(const kiln_tensor_desc* in, int32_t num_inputs, const kiln_tensor_desc* out, int32_t num_outputs) {
  for (int32_t i = 0; i < num_inputs; ++i)
    if (kiln_dtype_is_half(in[i].dtype)) return true;
  for (int32_t i = 0; i < num_outputs; ++i)
    if (kiln_dtype_is_half(out[i].dtype)) return true;
  return false;
}

// Note [Half precision through float32]
// ref computes float16 and bfloat16 the way the ABI asks (load -> float, compute, round to nearest
// even on store) at the granularity of whole tensors: each half input becomes a contiguous float32
// copy, each half output a float32 copy of its current contents, the float32 kernel runs, and the
// results are rounded back through the output's strides (so a strided COPY/FILL dst keeps the
// elements outside the view, and an in-place update reads its inputs before anything is stored).
// The kernels therefore never see a half dtype. Float32 kernels accumulate in double, so a half
// reduction is rounded once, at the store. A CAST from float64 or a wide integer to a half rounds
// twice (to float32, then to half); the conformance tolerances allow for it.
void launch_through_float(kiln_op op, const kiln_tensor_desc* in, int32_t num_inputs, const kiln_tensor_desc* out,
                          int32_t num_outputs, const void* attrs, const LaunchFn& launch) {
  const char* name = kiln_op_name(op);
  kiln_tensor_desc descs[KILN_OP_MAX_TENSORS];
  std::vector<float> storage[KILN_OP_MAX_TENSORS];
  for (int32_t i = 0; i < num_inputs; ++i)
    descs[i] = kiln_dtype_is_half(in[i].dtype) ? widen(name, "input", in[i], storage[i]) : in[i];
  for (int32_t i = 0; i < num_outputs; ++i) {
    const int32_t k = num_inputs + i;
    descs[k] = kiln_dtype_is_half(out[i].dtype) ? widen(name, "output", out[i], storage[k]) : out[i];
  }
  launch(op, descs, num_inputs, descs + num_inputs, num_outputs, attrs);
  for (int32_t i = 0; i < num_outputs; ++i)
    if (kiln_dtype_is_half(out[i].dtype)) narrow(out[i], storage[num_inputs + i]);
}

}  // namespace kiln::ref
