// Conformance cases of MATMUL, CONV and POOL: odd sizes, GEMM tails, broadcast batches, views,
// empty extents, and the attribute variants (stride, padding, dilation, groups, ceil_mode,
// count_include_pad).
#include <array>

#include "harness.hpp"

namespace kiln::conformance {

namespace {

std::string dims(std::initializer_list<int64_t> v) {
  std::string s;
  for (auto x : v) s += (s.empty() ? "" : "x") + std::to_string(x);
  return s;
}

// ---- matmul: a [B, M, K] @ b [B, K, N] ----
std::vector<Case> matmul(DType dtype, const Context& ctx, Rng& rng) {
  struct Spec {
    int64_t b, m, k, n;
    Layout la, lb;
    bool broadcast_b;
  };
  static const std::vector<Spec> specs = {
      {1, 3, 5, 4, Layout::Contiguous, Layout::Contiguous, false},
      {2, 7, 3, 5, Layout::Contiguous, Layout::Contiguous, false},
      {1, 4, 6, 3, Layout::Transposed, Layout::Contiguous, false},
      {3, 5, 4, 2, Layout::Contiguous, Layout::Transposed, false},
      {3, 4, 5, 6, Layout::Contiguous, Layout::Contiguous, true},
      {2, 3, 4, 5, Layout::Stepped, Layout::Permuted, false},
      {2, 5, 3, 4, Layout::Offset, Layout::Stepped, false},
      {1, 1, 7, 1, Layout::Contiguous, Layout::Contiguous, false},
      {2, 3, 0, 4, Layout::Contiguous, Layout::Contiguous, false},
      {0, 3, 4, 2, Layout::Contiguous, Layout::Contiguous, false},
      {1, 0, 3, 4, Layout::Contiguous, Layout::Contiguous, false},
      {1, 33, 65, 17, Layout::Contiguous, Layout::Transposed, false},
      {2, 64, 128, 48, Layout::Contiguous, Layout::Contiguous, false},
  };
  std::vector<Case> cases;
  for (const Spec& s : specs) {
    Case c;
    c.name = std::string(s.broadcast_b ? "broadcast_b:" : "") + layout_name(s.la) + "@" + layout_name(s.lb) + "[" +
             dims({s.b, s.m, s.k, s.n}) + "]";
    c.dtype = std::string(dtype_name(dtype));
    Tensor a = make_input(ctx, rng, {s.b, s.m, s.k}, dtype, Domain::General, s.la);
    Tensor b = s.broadcast_b ? make_input(ctx, rng, {1, s.k, s.n}, dtype, Domain::General, s.lb).expand({s.b, s.k, s.n})
                             : make_input(ctx, rng, {s.b, s.k, s.n}, dtype, Domain::General, s.lb);
    c.inputs = {a, b};
    c.outputs = {make_output(ctx, {s.b, s.m, s.n}, dtype)};
    set_tolerance(c, dtype, s.k);
    cases.push_back(std::move(c));
  }
  return cases;
}

// ---- conv2d and its two backward ops ----
int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) { return (in + 2 * p - d * (k - 1) - 1) / s + 1; }

std::vector<Case> conv(kiln_op op, DType dtype, const Context& ctx, Rng& rng) {
  struct Spec {
    const char* name;
    int64_t n, c, h, w, o, kh, kw;
    std::array<int64_t, 2> stride, pad, dil;
    int64_t groups;
    Layout x_layout;
  };
  static const std::vector<Spec> specs = {
      {"basic", 2, 3, 7, 6, 4, 3, 3, {1, 1}, {0, 0}, {1, 1}, 1, Layout::Contiguous},
      {"stride2_pad1", 2, 3, 7, 6, 4, 3, 3, {2, 2}, {1, 1}, {1, 1}, 1, Layout::Contiguous},
      {"dilation2_pad2", 1, 3, 9, 8, 2, 3, 3, {1, 1}, {2, 2}, {2, 2}, 1, Layout::Contiguous},
      {"groups2_pad1", 2, 4, 6, 5, 6, 3, 3, {1, 1}, {1, 1}, {1, 1}, 2, Layout::Contiguous},
      {"depthwise_stride2", 1, 3, 6, 6, 3, 3, 3, {2, 2}, {1, 1}, {1, 1}, 3, Layout::Contiguous},
      {"asymmetric", 2, 3, 7, 8, 4, 1, 3, {2, 1}, {0, 1}, {1, 1}, 1, Layout::Contiguous},
      {"pointwise1x1", 2, 5, 4, 4, 3, 1, 1, {1, 1}, {0, 0}, {1, 1}, 1, Layout::Stepped},
      {"channels_last_x", 2, 3, 6, 7, 4, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, Layout::Permuted},
      {"wide", 1, 16, 9, 9, 8, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, Layout::Contiguous},
      {"kernel_over_padding", 1, 2, 3, 3, 2, 5, 5, {1, 1}, {2, 2}, {1, 1}, 1, Layout::Offset},
      {"stride3_dilation2", 1, 2, 11, 10, 3, 2, 3, {3, 2}, {1, 0}, {2, 1}, 1, Layout::Contiguous},
      {"empty_batch", 0, 3, 5, 5, 2, 3, 3, {1, 1}, {0, 0}, {1, 1}, 1, Layout::Contiguous},
  };
  std::vector<Case> cases;
  for (const Spec& s : specs) {
    kiln_conv2d_attrs attrs = kiln_conv2d_attrs_init();
    for (int i = 0; i < 2; ++i) attrs.stride[i] = s.stride[i], attrs.padding[i] = s.pad[i], attrs.dilation[i] = s.dil[i];
    attrs.groups = s.groups;
    const int64_t oh = conv_out(s.h, s.kh, s.stride[0], s.pad[0], s.dil[0]);
    const int64_t ow = conv_out(s.w, s.kw, s.stride[1], s.pad[1], s.dil[1]);
    // Channels-last x: a [N, C, H, W] view of an NHWC buffer.
    auto x_of = [&]() {
      if (s.x_layout == Layout::Permuted)
        return make_input(ctx, rng, {s.n, s.h, s.w, s.c}, dtype, Domain::General).permute({0, 3, 1, 2});
      return make_input(ctx, rng, {s.n, s.c, s.h, s.w}, dtype, Domain::General, s.x_layout);
    };
    const Shape x_shape{s.n, s.c, s.h, s.w}, w_shape{s.o, s.c / s.groups, s.kh, s.kw}, y_shape{s.n, s.o, oh, ow};
    Case c;
    c.name = s.name + std::string("[") + dims({s.n, s.c, s.h, s.w}) + "*" + dims({s.o, s.c / s.groups, s.kh, s.kw}) + "]";
    c.dtype = std::string(dtype_name(dtype));
    c.attrs = make_attrs(attrs);
    Tensor w = make_input(ctx, rng, w_shape, dtype, Domain::General);
    if (op == KILN_OP_CONV2D) {
      c.inputs = {x_of(), w};
      c.outputs = {make_output(ctx, y_shape, dtype)};
      set_tolerance(c, dtype, (s.c / s.groups) * s.kh * s.kw);
    } else if (op == KILN_OP_CONV2D_BACKWARD_INPUT) {
      c.inputs = {make_input(ctx, rng, y_shape, dtype, Domain::General, s.x_layout == Layout::Contiguous ? Layout::Contiguous : Layout::Stepped), w};
      c.outputs = {make_output(ctx, x_shape, dtype)};
      set_tolerance(c, dtype, (s.o / s.groups) * s.kh * s.kw);
    } else {
      c.inputs = {make_input(ctx, rng, y_shape, dtype, Domain::General), x_of()};
      c.outputs = {make_output(ctx, w_shape, dtype)};
      set_tolerance(c, dtype, std::max<int64_t>(1, s.n * oh * ow));
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

// ---- pooling ----
// PyTorch's pooling output size (as the host computes it).
int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  const int64_t span = in + 2 * p - d * (k - 1) - 1;
  int64_t o = ceil_mode ? (span + s - 1) / s + 1 : span / s + 1;
  if (ceil_mode && (o - 1) * s >= in + p) --o;
  return o;
}

std::vector<Case> pool(kiln_op op, DType dtype, const Context& ctx, Rng& rng) {
  struct Spec {
    const char* name;
    int64_t n, c, h, w;
    std::array<int64_t, 2> kernel, stride, pad, dil;
    int32_t ceil_mode, count_include_pad;
    Layout layout;
  };
  static const std::vector<Spec> specs = {
      {"k2s2", 2, 3, 6, 6, {2, 2}, {2, 2}, {0, 0}, {1, 1}, 0, 1, Layout::Contiguous},
      {"k3s2p1", 2, 3, 7, 7, {3, 3}, {2, 2}, {1, 1}, {1, 1}, 0, 1, Layout::Contiguous},
      {"k3s2p1_exclude_pad", 2, 3, 7, 7, {3, 3}, {2, 2}, {1, 1}, {1, 1}, 0, 0, Layout::Contiguous},
      {"k3s2_ceil", 1, 2, 8, 8, {3, 3}, {2, 2}, {0, 0}, {1, 1}, 1, 1, Layout::Contiguous},
      {"k3s2p1_ceil_exclude_pad", 1, 2, 7, 6, {3, 3}, {2, 2}, {1, 1}, {1, 1}, 1, 0, Layout::Contiguous},
      {"k2x3s1x2", 2, 2, 5, 7, {2, 3}, {1, 2}, {0, 1}, {1, 1}, 0, 1, Layout::Stepped},
      {"k3_dilation2", 1, 2, 7, 7, {3, 3}, {1, 1}, {1, 1}, {2, 2}, 0, 1, Layout::Contiguous},
      {"k2s1_permuted", 2, 3, 6, 5, {2, 2}, {1, 1}, {0, 0}, {1, 1}, 0, 1, Layout::Permuted},
      {"k1", 1, 2, 3, 3, {1, 1}, {1, 1}, {0, 0}, {1, 1}, 0, 1, Layout::Offset},
      {"empty_batch", 0, 2, 4, 4, {2, 2}, {2, 2}, {0, 0}, {1, 1}, 0, 1, Layout::Contiguous},
  };
  const bool is_max = op == KILN_OP_MAXPOOL2D || op == KILN_OP_MAXPOOL2D_BACKWARD;
  std::vector<Case> cases;
  for (const Spec& s : specs) {
    const bool dilated = s.dil[0] != 1 || s.dil[1] != 1;
    if (!is_max && dilated) continue;          // average pooling has no dilation
    if (is_max && !s.count_include_pad) continue;  // count_include_pad is an average-pool knob
    kiln_pool2d_attrs attrs = kiln_pool2d_attrs_init();
    for (int i = 0; i < 2; ++i) {
      attrs.kernel[i] = s.kernel[i], attrs.stride[i] = s.stride[i], attrs.padding[i] = s.pad[i];
      attrs.dilation[i] = is_max ? s.dil[i] : 1;
    }
    attrs.ceil_mode = s.ceil_mode;
    attrs.count_include_pad = s.count_include_pad;
    const int64_t oh = pool_out(s.h, s.kernel[0], s.stride[0], s.pad[0], attrs.dilation[0], s.ceil_mode);
    const int64_t ow = pool_out(s.w, s.kernel[1], s.stride[1], s.pad[1], attrs.dilation[1], s.ceil_mode);
    const Shape x_shape{s.n, s.c, s.h, s.w}, y_shape{s.n, s.c, oh, ow};
    Case c;
    c.name = s.name + std::string("[") + dims({s.n, s.c, s.h, s.w}) + "]";
    c.dtype = std::string(dtype_name(dtype));
    c.attrs = make_attrs(attrs);
    Tensor x = make_input(ctx, rng, x_shape, dtype, Domain::General, s.layout);
    switch (op) {
      case KILN_OP_MAXPOOL2D:
        c.inputs = {x};
        c.outputs = {make_output(ctx, y_shape, dtype), make_output(ctx, y_shape, DType::Int64)};
        break;
      case KILN_OP_MAXPOOL2D_BACKWARD: {
        // Real indices from the reference forward pass; overlapping windows share inputs.
        Tensor y = make_output(ctx, y_shape, dtype), idx = make_output(ctx, y_shape, DType::Int64);
        run_on_reference(ctx, KILN_OP_MAXPOOL2D, {x}, {y, idx}, &attrs);
        c.inputs = {make_input(ctx, rng, y_shape, dtype, Domain::General, s.layout), idx};
        c.outputs = {make_output(ctx, x_shape, dtype)};
        break;
      }
      case KILN_OP_AVGPOOL2D:
        c.inputs = {x};
        c.outputs = {make_output(ctx, y_shape, dtype)};
        break;
      default:  // AVGPOOL2D_BACKWARD
        c.inputs = {make_input(ctx, rng, y_shape, dtype, Domain::General, s.layout)};
        c.outputs = {make_output(ctx, x_shape, dtype)};
        break;
    }
    set_tolerance(c, dtype, s.kernel[0] * s.kernel[1]);
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace

std::vector<Case> linalg_cases(kiln_op op, Kind kind, DType dtype, const Context& ctx, Rng& rng) {
  switch (kind) {
    case KILN_OP_KIND_MATMUL: return matmul(dtype, ctx, rng);
    case KILN_OP_KIND_CONV: return conv(op, dtype, ctx, rng);
    case KILN_OP_KIND_POOL: return pool(op, dtype, ctx, rng);
    default: return {};
  }
}

}  // namespace kiln::conformance
