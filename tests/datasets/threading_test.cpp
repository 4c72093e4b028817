// The threading contract of the backend ABI (kiln_backend.h, "Threading"), as the host obeys it:
// DataLoader workers launch ops (their transforms compute with Kiln tensors) while the training
// thread runs forward, backward and optimizer steps on the same device, and plain threads
// allocate, compute and free beside them. Every value is checked against what one thread
// computes. scripts/tsan-check.sh runs this binary under ThreadSanitizer, where any data race in
// core, the plugin host, the allocator or a host backend fails it.
#include <kiln/autograd.hpp>
#include <kiln/data/dataloader.hpp>
#include <kiln/error.hpp>
#include <kiln/nn/functional.hpp>
#include <kiln/nn/linear.hpp>
#include <kiln/ops.hpp>
#include <kiln/optim.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <thread>
#include <vector>

namespace kiln::data {
namespace {

// Example i: input = softmax(i * [0, 1, 2, 3] / 8) computed with Kiln ops in the worker thread,
// plus matmul and reductions, so workers launch pointwise, reduction, softmax and matmul ops.
class ComputedDataset : public Dataset {
 public:
  explicit ComputedDataset(int64_t n) : n_(n) {}
  int64_t size() const override { return n_; }
  Example get(int64_t i) const override {
    Tensor ramp = arange(0, 4).to(DType::Float32);
    Tensor x = softmax(mul(ramp, static_cast<double>(i) / 8.0), 0);
    // x @ I == x, computed the long way to exercise matmul from the worker
    Tensor eye = zeros({4, 4});
    for (int64_t k = 0; k < 4; ++k) eye.select(0, k).select(0, k).fill_(1.0);
    Tensor y = matmul(x.reshape({1, 4}), eye).reshape({4});
    return {y, scalar_tensor(static_cast<double>(i % 3), {.dtype = DType::Int64})};
  }

 private:
  int64_t n_;
};

std::vector<float> expected_input(int64_t i) {
  std::vector<double> e(4);
  double total = 0;
  for (int k = 0; k < 4; ++k) total += e[k] = std::exp(k * static_cast<double>(i) / 8.0);
  std::vector<float> out(4);
  for (int k = 0; k < 4; ++k) out[k] = static_cast<float>(e[k] / total);
  return out;
}

TEST(ThreadingContract, WorkersLaunchOpsWhileTheTrainingThreadTrains) {
  auto dataset = std::make_shared<ComputedDataset>(96);
  DataLoader loader(dataset, {.batch_size = 8, .shuffle = true, .seed = 3, .num_workers = 2});
  nn::Linear net(4, 3);
  optim::SGD opt(net->parameters(), 0.1);

  // Plain threads beside the loader: allocate, compute, check, free, on the same device.
  std::atomic<bool> stop{false};
  std::atomic<int64_t> side_checks{0}, side_failures{0};
  std::vector<std::thread> side;
  for (int t = 0; t < 2; ++t)
    side.emplace_back([&, t] {
      while (!stop.load()) {
        Tensor a = full({64}, 1.0 + t);
        Tensor b = sum(mul(a, a));
        if (b.item<float>() != 64.0f * (1 + t) * (1 + t)) ++side_failures;
        ++side_checks;
      }
    });

  double first_loss = 0, last_loss = 0;
  int64_t batches = 0;
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    loader.start_epoch(epoch);
    while (auto batch = loader.next()) {
      // The worker's values arrived intact.
      std::vector<float> x = batch->input.contiguous().to_vector<float>();
      std::vector<int64_t> y = batch->target.to_vector<int64_t>();
      ASSERT_EQ(x.size(), y.size() * 4);
      for (size_t r = 0; r < y.size(); ++r) {
        // the target is i % 3; any i with that residue gives a softmax row summing to 1
        float row = x[4 * r] + x[4 * r + 1] + x[4 * r + 2] + x[4 * r + 3];
        EXPECT_NEAR(row, 1.0f, 1e-5f);
      }
      opt.zero_grad();
      Tensor loss = nn::functional::cross_entropy(net(batch->input), batch->target);
      loss.backward();
      opt.step();
      (batches == 0 ? first_loss : last_loss) = loss.item<float>();
      ++batches;
    }
  }
  stop = true;
  for (auto& t : side) t.join();
  EXPECT_EQ(batches, 36);
  EXPECT_GT(side_checks.load(), 0);
  EXPECT_EQ(side_failures.load(), 0);
  EXPECT_TRUE(std::isfinite(last_loss));
  EXPECT_NE(first_loss, last_loss);
}

TEST(ThreadingContract, ExamplesComputedInWorkersEqualThoseComputedInOneThread) {
  auto dataset = std::make_shared<ComputedDataset>(40);
  DataLoader serial(dataset, {.batch_size = 5, .num_workers = 0});
  DataLoader parallel(dataset, {.batch_size = 5, .num_workers = 2});
  serial.start_epoch(0);
  parallel.start_epoch(0);
  int64_t i = 0;
  while (auto a = serial.next()) {
    auto b = parallel.next();
    ASSERT_TRUE(b.has_value());
    std::vector<float> xa = a->input.contiguous().to_vector<float>();
    std::vector<float> xb = b->input.contiguous().to_vector<float>();
    ASSERT_EQ(xa, xb);
    for (int64_t r = 0; r < 5; ++r, ++i) {
      std::vector<float> e = expected_input(i);
      for (int k = 0; k < 4; ++k) EXPECT_NEAR(xa[4 * r + k], e[k], 1e-6f) << "example " << i;
    }
  }
  EXPECT_FALSE(parallel.next().has_value());
  EXPECT_EQ(i, 40);
}

}  // namespace
}  // namespace kiln::data
