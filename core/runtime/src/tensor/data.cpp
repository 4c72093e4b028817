#include <kiln/autograd.hpp>
#include <kiln/data.hpp>
#include <kiln/ops.hpp>

namespace kiln::data {

TensorBatches::TensorBatches(Tensor inputs, Tensor targets, TensorBatchesOptions options)
    : inputs_(std::move(inputs)), targets_(std::move(targets)), options_(options) {
  KILN_CHECK(inputs_.dim() >= 1, ShapeError, "TensorBatches: inputs need a leading sample axis, got shape ",
             inputs_.shape());
  KILN_CHECK(!targets_.defined() || (targets_.dim() >= 1 && targets_.shape()[0] == inputs_.shape()[0]), ShapeError,
             "TensorBatches: ", inputs_.shape()[0], " inputs but targets of shape ",
             targets_.defined() ? targets_.shape().str() : "undefined");
  KILN_CHECK(options_.batch_size > 0, ValueError, "TensorBatches: batch_size must be positive, got ", options_.batch_size);
  start_epoch(0);
}

void TensorBatches::start_epoch(int64_t epoch) {
  cursor_ = 0;
  if (options_.shuffle) {
    Generator gen(options_.seed + static_cast<uint64_t>(epoch) * 0x9E3779B97F4A7C15ull);
    order_ = randperm(inputs_.shape()[0], &gen, inputs_.device());
  } else {
    order_ = Tensor();
  }
}

int64_t TensorBatches::num_batches() const {
  int64_t n = inputs_.shape()[0], b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

std::optional<Batch> TensorBatches::next() {
  int64_t n = inputs_.shape()[0];
  int64_t remaining = n - cursor_;
  if (remaining <= 0 || (options_.drop_last && remaining < options_.batch_size)) return std::nullopt;
  int64_t len = std::min(remaining, options_.batch_size);
  NoGradGuard guard;
  Batch b;
  if (order_.defined()) {
    Tensor idx = order_.narrow(0, cursor_, len);
    b.input = index_select(inputs_, 0, idx);
    if (targets_.defined()) b.target = index_select(targets_, 0, idx);
  } else {
    b.input = inputs_.narrow(0, cursor_, len);
    if (targets_.defined()) b.target = targets_.narrow(0, cursor_, len);
  }
  cursor_ += len;
  return b;
}

}  // namespace kiln::data
