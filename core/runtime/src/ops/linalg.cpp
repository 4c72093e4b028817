// matmul: torch.matmul's rules on top of the batched MATMUL primitive.
#include "ops/common.hpp"

namespace kiln {

using autograd::needs_grad;
using autograd::record;
using G = std::vector<Tensor>;

namespace {

// a [B, M, K] x b [B, K, N] -> [B, M, N], with autograd.
Tensor bmm3(const Tensor& a, const Tensor& b) {
  Tensor out = detail::make_tensor({a.shape()[0], a.shape()[1], b.shape()[2]}, a.dtype(), a.device());
  detail::run(KILN_OP_MATMUL, a.device(), {a.detach(), b.detach()}, {out});
  if (needs_grad({a, b})) {
    Tensor ad = a.detach(), bd = b.detach();
    bool ga = a.requires_grad(), gb = b.requires_grad();
    record("matmul", {a, b}, {out}, [ad, bd, ga, gb](const G& g) {
      return G{ga ? bmm3(g[0], bd.transpose(1, 2)) : Tensor(), gb ? bmm3(ad.transpose(1, 2), g[0]) : Tensor()};
    });
  }
  autograd::check_anomaly("matmul", {out});
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  detail::check_defined("matmul", {a_in, b_in});
  detail::check_same_device("matmul", {a_in, b_in});
  KILN_CHECK(a_in.dim() >= 1 && b_in.dim() >= 1, ShapeError, "matmul: both arguments need at least 1 dimension, got ",
             a_in.shape(), " and ", b_in.shape());
  DType t = promote_types(a_in.dtype(), b_in.dtype());
  Tensor a = detail::as_dtype(a_in, t), b = detail::as_dtype(b_in, t);
  bool a_vec = a.dim() == 1, b_vec = b.dim() == 1;
  if (a_vec) a = a.unsqueeze(0);
  if (b_vec) b = b.unsqueeze(1);
  int64_t m = a.shape()[a.dim() - 2], k = a.shape()[a.dim() - 1];
  int64_t k2 = b.shape()[b.dim() - 2], n = b.shape()[b.dim() - 1];
  KILN_CHECK(k == k2, ShapeError, "matmul: inner dimensions differ: ", a_in.shape(), " @ ", b_in.shape(), " (", k,
             " vs ", k2, ")");
  Shape a_batch(a.shape().begin(), a.shape().end() - 2), b_batch(b.shape().begin(), b.shape().end() - 2);
  Tensor out;
  if (b_batch.empty()) {
    // [..., M, K] @ [K, N]: fold the batch into M, one GEMM
    Tensor a3 = a.reshape({1, a_batch.numel() * m, k});
    out = bmm3(a3, b.unsqueeze(0));
    Shape s = a_batch;
    s.push_back(m);
    s.push_back(n);
    out = out.reshape(s);
  } else {
    Shape batch = broadcast_shapes(a_batch, b_batch, "matmul (batch axes)");
    Shape sa = batch, sb = batch;
    sa.push_back(m);
    sa.push_back(k);
    sb.push_back(k);
    sb.push_back(n);
    int64_t bn = batch.numel();
    out = bmm3(a.expand(sa).reshape({bn, m, k}), b.expand(sb).reshape({bn, k, n}));
    Shape s = batch;
    s.push_back(m);
    s.push_back(n);
    out = out.reshape(s);
  }
  if (b_vec) out = out.squeeze(-1);
  if (a_vec) out = out.squeeze(a_vec && b_vec ? 0 : -2);
  return out;
}

}  // namespace kiln
