// Define-by-run automatic differentiation.
//
// An op whose input requires grad records a Node holding what its backward formula needs; the
// formulas are written with Kiln ops, so every backend that runs the forward ops also trains.
// Tensor::backward() (or grad()) walks the recorded graph in reverse topological order.
#pragma once

#include <kiln/tensor.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kiln::autograd {

struct Node;

struct Edge {
  std::shared_ptr<Node> fn;  // null: this input needs no gradient
  int32_t input_nr = 0;      // which output of fn this edge feeds
};

// One recorded op. apply() maps gradients of its outputs to gradients of its inputs.
struct Node : std::enable_shared_from_this<Node> {
  virtual ~Node() = default;
  virtual std::vector<Tensor> apply(const std::vector<Tensor>& grad_outputs) = 0;
  // Frees saved tensors after a backward pass without retain_graph.
  virtual void release() {}
  virtual bool released() const { return false; }

  std::string name;      // the op, e.g. "conv2d"
  std::string layer;     // the module path active when it was recorded ("features.3"), if any
  uint64_t sequence_nr = 0;
  int32_t num_outputs = 1;
  std::vector<Edge> next;           // one per input
  std::vector<Shape> input_shapes;  // gradients are summed back to these (broadcasting)
  std::vector<DType> input_dtypes;
  std::vector<Shape> output_shapes;
  std::vector<DType> output_dtypes;
  // Hooks on non-leaf outputs, by output number.
  std::vector<std::vector<std::function<Tensor(const Tensor&)>>> output_hooks;
  // Non-leaf outputs whose .grad() should be kept (retain_grad), by output number.
  std::vector<std::weak_ptr<TensorImpl>> retained;
};

struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;           // null for leaves
  int32_t output_nr = 0;
  std::shared_ptr<Node> grad_accumulator;  // leaves: the node that accumulates into grad
  std::vector<std::function<Tensor(const Tensor&)>> hooks;  // leaves
};

// Is gradient recording on for this thread?
bool grad_enabled();
void set_grad_enabled(bool enabled);

// Turns recording off for its scope (torch.no_grad()).
class NoGradGuard {
 public:
  NoGradGuard() : previous_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Anomaly mode: every op's outputs and every gradient are checked for NaN/Inf; the first one
// raises AnomalyError naming the op, the layer, the shape and where it came from.
class AnomalyError : public Error {
  using Error::Error;
};
bool anomaly_enabled();
void set_anomaly_enabled(bool enabled);
class DetectAnomalyGuard {
 public:
  DetectAnomalyGuard() : previous_(anomaly_enabled()) { set_anomaly_enabled(true); }
  ~DetectAnomalyGuard() { set_anomaly_enabled(previous_); }

 private:
  bool previous_;
};

// The module path ops are recorded under; nn::Module pushes its path while it runs.
class LayerScope {
 public:
  explicit LayerScope(const std::string& path);
  ~LayerScope();
  LayerScope(const LayerScope&) = delete;
  LayerScope& operator=(const LayerScope&) = delete;
};
const std::string& current_layer();

using BackwardFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& grad_outputs)>;

// True when grad mode is on and any input requires grad.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);
// Records an op: outputs get a grad_fn calling fn. fn returns one gradient per input (undefined
// for "none"); each is summed to the input's shape and cast to its dtype.
void record(const char* name, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs, BackwardFn fn);
// Checks outputs for NaN/Inf when anomaly mode is on.
void check_anomaly(const char* name, const std::vector<Tensor>& outputs);

// Gradients of outputs w.r.t. inputs, without touching .grad() (torch.autograd.grad).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false,
                         bool allow_unused = false);
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              bool retain_graph = false);

// Sums a broadcast gradient back to shape (the adjoint of expand).
Tensor sum_to(const Tensor& grad, const Shape& shape);

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
};
// Compares analytical gradients of fn (inputs must be float64 and require grad) with central
// finite differences; throws ValueError describing the first mismatch, returns true otherwise.
bool gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& inputs,
               const GradcheckOptions& options = {});

}  // namespace kiln::autograd

namespace kiln {
using autograd::NoGradGuard;
using autograd::grad;
}  // namespace kiln
