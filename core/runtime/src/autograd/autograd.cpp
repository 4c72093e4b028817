// The autograd engine: recording, backward passes, hooks, anomaly mode and gradcheck.
#include <kiln/autograd.hpp>
#include <kiln/ops.hpp>

#include <atomic>
#include <cmath>
#include <map>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "dispatch/dispatch.hpp"

namespace kiln::autograd {

namespace {

thread_local bool t_grad_enabled = true;
std::atomic<bool> g_anomaly{false};
std::atomic<uint64_t> g_sequence{0};
thread_local std::vector<std::string> t_layers;
// Set while a backward pass runs: the ops inside backward formulas skip the forward anomaly check,
// so a non-finite gradient is reported once, naming the op whose backward produced it.
thread_local bool t_in_backward = false;

struct FunctionNode final : Node {
  BackwardFn fn;
  bool released_ = false;
  std::vector<Tensor> apply(const std::vector<Tensor>& grad_outputs) override {
    KILN_CHECK(!released_, Error, "trying to backward through the graph a second time (op '", name,
               "'); its saved tensors were freed after the first backward: pass retain_graph=true to the first one");
    return fn(grad_outputs);
  }
  void release() override {
    fn = nullptr;
    released_ = true;
  }
  bool released() const override { return released_; }
};

struct AccumulateGrad final : Node {
  std::weak_ptr<TensorImpl> variable;
  std::vector<Tensor> apply(const std::vector<Tensor>&) override { return {}; }
};

AutogradMeta& meta(const Tensor& t) {
  auto* impl = t.impl();
  if (!impl->autograd) impl->autograd = std::make_shared<AutogradMeta>();
  return *impl->autograd;
}

std::shared_ptr<Node> grad_accumulator(const Tensor& leaf) {
  AutogradMeta& m = meta(leaf);
  if (!m.grad_accumulator) {
    auto acc = std::make_shared<AccumulateGrad>();
    acc->name = "AccumulateGrad";
    acc->variable = leaf.impl_ptr();
    acc->input_shapes = {leaf.shape()};
    acc->input_dtypes = {leaf.dtype()};
    m.grad_accumulator = acc;
  }
  return m.grad_accumulator;
}

Edge edge_of(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  auto* m = t.impl()->autograd.get();
  if (m->grad_fn) return {m->grad_fn, m->output_nr};
  return {grad_accumulator(t), 0};
}

bool has_non_finite(const Tensor& t) {
  if (!t.defined() || !is_floating(t.dtype()) || t.numel() == 0) return false;
  NoGradGuard guard;
  auto v = t.to_vector<double>();
  for (double x : v)
    if (!std::isfinite(x)) return true;
  return false;
}

}  // namespace

bool grad_enabled() { return t_grad_enabled; }
void set_grad_enabled(bool enabled) { t_grad_enabled = enabled; }
bool anomaly_enabled() { return g_anomaly.load(); }
void set_anomaly_enabled(bool enabled) { g_anomaly.store(enabled); }

LayerScope::LayerScope(const std::string& path) { t_layers.push_back(path); }
LayerScope::~LayerScope() { t_layers.pop_back(); }
const std::string& current_layer() {
  static const std::string none;
  return t_layers.empty() ? none : t_layers.back();
}

bool needs_grad(std::initializer_list<Tensor> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}
bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void check_anomaly(const char* name, const std::vector<Tensor>& outputs) {
  if (!g_anomaly.load() || t_in_backward) return;
  for (const Tensor& t : outputs) {
    if (has_non_finite(t)) {
      const std::string& layer = current_layer();
      throw AnomalyError(detail::concat("anomaly: op '", name, "' produced NaN or Inf in its output of shape ",
                                        t.shape(), " (", dtype_name(t.dtype()), ")",
                                        layer.empty() ? std::string() : " in layer '" + layer + "'",
                                        " during the forward pass"));
    }
  }
}

void record(const char* name, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs, BackwardFn fn) {
  auto node = std::make_shared<FunctionNode>();
  node->name = name;
  node->layer = current_layer();
  node->sequence_nr = g_sequence.fetch_add(1);
  node->num_outputs = static_cast<int32_t>(outputs.size());
  node->fn = std::move(fn);
  for (const Tensor& t : inputs) {
    node->next.push_back(edge_of(t));
    node->input_shapes.push_back(t.defined() ? t.shape() : Shape{});
    node->input_dtypes.push_back(t.defined() ? t.dtype() : DType::Float32);
  }
  node->output_hooks.resize(outputs.size());
  node->retained.resize(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    node->output_shapes.push_back(outputs[i].shape());
    node->output_dtypes.push_back(outputs[i].dtype());
    if (!is_floating(outputs[i].dtype())) continue;
    AutogradMeta& m = meta(outputs[i]);
    m.requires_grad = true;
    m.grad_fn = node;
    m.output_nr = static_cast<int32_t>(i);
  }
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  int64_t lead = grad.dim() - shape.size();
  KILN_ASSERT(lead >= 0, "sum_to: gradient ", grad.shape(), " has fewer axes than ", shape);
  std::vector<int64_t> axes;
  for (int64_t i = 0; i < grad.dim(); ++i)
    if (i < lead || (shape[i - lead] == 1 && grad.shape()[i] != 1)) axes.push_back(i);
  Tensor r = axes.empty() ? grad : sum(grad, axes, true);
  return r.reshape(shape);
}

namespace {

// Runs the backward pass from roots. When `inputs` is non-empty, collects their gradients
// instead of accumulating into leaves (autograd::grad).
std::vector<Tensor> run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& root_grads,
                                 bool retain_graph, const std::vector<Tensor>& inputs, bool allow_unused) {
  NoGradGuard no_grad;
  struct InBackward {
    bool previous = t_in_backward;
    InBackward() { t_in_backward = true; }
    ~InBackward() { t_in_backward = previous; }
  } in_backward;
  KILN_CHECK(root_grads.empty() || root_grads.size() == roots.size(), ValueError, "backward: got ", root_grads.size(),
             " gradients for ", roots.size(), " outputs");
  // Input edges (for grad()): which node/slot to capture.
  std::vector<Edge> capture;
  for (const Tensor& t : inputs) {
    KILN_CHECK(t.requires_grad(), ValueError, "grad: an input does not require grad");
    capture.push_back(edge_of(t));
  }
  std::vector<Tensor> captured(inputs.size());

  std::unordered_map<Node*, std::vector<Tensor>> buffers;
  std::unordered_map<Node*, int> dependencies;
  std::vector<std::shared_ptr<Node>> start;
  auto add_grad = [&](const Edge& e, const Tensor& g) {
    auto& buf = buffers[e.fn.get()];
    if (buf.empty()) buf.resize(std::max<size_t>(e.fn->num_outputs, 1));
    Tensor& slot = buf[e.input_nr];
    slot = slot.defined() ? add(slot, g) : g;
  };
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    KILN_CHECK(r.requires_grad(), ValueError,
               "backward: the tensor does not require grad and has no grad_fn (did you call detach(), or run under "
               "NoGradGuard, or forget set_requires_grad?)");
    Tensor g = root_grads.empty() ? Tensor() : root_grads[i];
    if (!g.defined()) {
      KILN_CHECK(r.numel() == 1, ValueError, "backward: gradient can be implicitly created only for one-element outputs, got shape ",
                 r.shape(), "; pass a gradient tensor");
      g = ones_like(r.detach());
    }
    KILN_CHECK(g.shape() == r.shape(), ShapeError, "backward: gradient shape ", g.shape(), " does not match output ",
               r.shape());
    Edge e = edge_of(r);
    add_grad(e, g);
    start.push_back(e.fn);
  }
  // Count dependencies by walking the graph once.
  std::unordered_set<Node*> seen;
  std::vector<Node*> stack;
  for (auto& s : start)
    if (seen.insert(s.get()).second) stack.push_back(s.get());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (auto& e : n->next) {
      if (!e.fn) continue;
      ++dependencies[e.fn.get()];
      if (seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
    }
  }
  auto cmp = [](const std::shared_ptr<Node>& a, const std::shared_ptr<Node>& b) { return a->sequence_nr < b->sequence_nr; };
  std::priority_queue<std::shared_ptr<Node>, std::vector<std::shared_ptr<Node>>, decltype(cmp)> ready(cmp);
  std::unordered_set<Node*> queued;
  for (auto& s : start)
    if (dependencies[s.get()] == 0 && queued.insert(s.get()).second) ready.push(s);

  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.top();
    ready.pop();
    std::vector<Tensor> grads = std::move(buffers[node.get()]);
    buffers.erase(node.get());
    if (grads.empty()) grads.resize(std::max<int32_t>(node->num_outputs, 1));
    // capture for grad()
    for (size_t i = 0; i < capture.size(); ++i)
      if (capture[i].fn == node && grads[capture[i].input_nr].defined()) captured[i] = grads[capture[i].input_nr];

    if (auto* acc = dynamic_cast<AccumulateGrad*>(node.get())) {
      if (inputs.empty()) {
        if (auto impl = acc->variable.lock()) {
          Tensor var(impl);
          Tensor g = grads[0];
          if (g.defined()) {
            for (auto& hook : meta(var).hooks)
              if (Tensor r = hook(g); r.defined()) g = r;
            AutogradMeta& m = meta(var);
            g = sum_to(g, var.shape());
            if (g.dtype() != var.dtype()) g = g.to(var.dtype());
            m.grad = m.grad.defined() ? add(m.grad, g) : g.contiguous().clone();
          }
        }
      }
      continue;
    }
    // tensor hooks on this node's outputs, and retained grads
    for (size_t i = 0; i < grads.size() && i < node->output_hooks.size(); ++i) {
      if (!grads[i].defined()) continue;
      for (auto& hook : node->output_hooks[i])
        if (Tensor r = hook(grads[i]); r.defined()) grads[i] = r;
      if (auto impl = node->retained[i].lock()) {
        Tensor var(impl);
        AutogradMeta& m = meta(var);
        m.grad = m.grad.defined() ? add(m.grad, grads[i]) : grads[i].clone();
      }
    }
    bool any = false;
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!grads[i].defined() && i < node->output_shapes.size()) {
        grads[i] = zeros(node->output_shapes[i], {.dtype = node->output_dtypes[i], .device = {}});
      } else if (grads[i].defined()) {
        any = true;
      }
    }
    std::vector<Tensor> input_grads;
    if (any) {
      LayerScope scope(node->layer);
      input_grads = node->apply(grads);
    }
    if (!retain_graph) node->release();
    for (size_t i = 0; i < node->next.size(); ++i) {
      const Edge& e = node->next[i];
      if (!e.fn) continue;
      Tensor g = i < input_grads.size() ? input_grads[i] : Tensor();
      if (g.defined()) {
        g = sum_to(g, node->input_shapes[i]);
        if (g.dtype() != node->input_dtypes[i]) g = g.to(node->input_dtypes[i]);
        if (g_anomaly.load() && has_non_finite(g))
          throw AnomalyError(detail::concat("anomaly: the backward of op '", node->name, "'",
                                            node->layer.empty() ? std::string() : " in layer '" + node->layer + "'",
                                            " produced NaN or Inf in the gradient of its input ", i, " (shape ",
                                            g.shape(), ")"));
        add_grad(e, g);
      }
      if (--dependencies[e.fn.get()] == 0 && queued.insert(e.fn.get()).second) ready.push(e.fn);
    }
  }
  if (!inputs.empty()) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      KILN_CHECK(captured[i].defined() || allow_unused, ValueError, "grad: input ", i,
                 " was not used to compute the outputs (pass allow_unused=true)");
      if (captured[i].defined()) captured[i] = sum_to(captured[i], inputs[i].shape());
    }
  }
  return captured;
}

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs, bool retain_graph) {
  run_backward(outputs, grad_outputs, retain_graph, {}, false);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph, bool allow_unused) {
  KILN_CHECK(!inputs.empty(), ValueError, "grad: expected at least one input");
  return run_backward(outputs, grad_outputs, retain_graph, inputs, allow_unused);
}

bool gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& inputs,
               const GradcheckOptions& o) {
  for (size_t i = 0; i < inputs.size(); ++i)
    KILN_CHECK(inputs[i].dtype() == DType::Float64, DTypeError, "gradcheck: input ", i, " must be float64, got ",
               dtype_name(inputs[i].dtype()));
  Tensor out = fn(inputs);
  Tensor out_flat = out.reshape({-1});
  int64_t n_out = out.numel();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.requires_grad()) continue;
    int64_t n_in = x.numel();
    // numerical Jacobian column by column
    std::vector<double> numeric(static_cast<size_t>(n_in * n_out));
    std::vector<double> base = x.to_vector<double>();
    for (int64_t j = 0; j < n_in; ++j) {
      auto eval = [&](double delta) {
        NoGradGuard guard;
        std::vector<double> v = base;
        v[j] += delta;
        Tensor xv = from_vector(v, x.shape(), x.device());
        x.detach().copy_(xv);
        return fn(inputs).to_vector<double>();
      };
      auto plus = eval(o.eps);
      auto minus = eval(-o.eps);
      for (int64_t k = 0; k < n_out; ++k) numeric[k * n_in + j] = (plus[k] - minus[k]) / (2 * o.eps);
    }
    {
      NoGradGuard guard;
      x.detach().copy_(from_vector(base, x.shape(), x.device()));
    }
    // analytical Jacobian row by row
    for (int64_t k = 0; k < n_out; ++k) {
      Tensor y = fn(inputs).reshape({-1});
      std::vector<double> seed(static_cast<size_t>(n_out), 0.0);
      seed[k] = 1.0;
      auto g = grad({y}, {x}, {from_vector(seed, {n_out}, y.device())}, false, true);
      std::vector<double> row = g[0].defined() ? g[0].to_vector<double>() : std::vector<double>(n_in, 0.0);
      for (int64_t j = 0; j < n_in; ++j) {
        double a = row[j], nmr = numeric[k * n_in + j];
        if (!(std::fabs(a - nmr) <= o.atol + o.rtol * std::fabs(nmr)))
          throw ValueError(detail::concat("gradcheck: Jacobian mismatch for input ", i, " (shape ", x.shape(),
                                          "), output element ", k, ", input element ", j, ": analytical ", a,
                                          " vs numerical ", nmr));
      }
    }
  }
  return true;
}

}  // namespace kiln::autograd

namespace kiln {

bool Tensor::requires_grad() const {
  auto& m = checked().autograd;
  return m && m->requires_grad;
}

Tensor& Tensor::set_requires_grad(bool enabled) {
  KILN_CHECK(!enabled || is_floating(dtype()), DTypeError,
             "set_requires_grad: only floating-point tensors can require gradients, got ", dtype_name(dtype()));
  auto& m = impl()->autograd;
  if (!m) m = std::make_shared<autograd::AutogradMeta>();
  KILN_CHECK(enabled || !m->grad_fn, ValueError,
             "set_requires_grad(false) on a non-leaf tensor; use detach() instead");
  m->requires_grad = enabled;
  return *this;
}

Tensor Tensor::grad() const {
  auto& m = checked().autograd;
  return m ? m->grad : Tensor();
}

void Tensor::set_grad(const Tensor& g) {
  auto& m = impl()->autograd;
  if (!m) m = std::make_shared<autograd::AutogradMeta>();
  m->grad = g;
}

bool Tensor::is_leaf() const {
  auto& m = checked().autograd;
  return !m || !m->grad_fn;
}

std::shared_ptr<autograd::Node> Tensor::grad_fn() const {
  auto& m = checked().autograd;
  return m ? m->grad_fn : nullptr;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  autograd::backward({*this}, gradient.defined() ? std::vector<Tensor>{gradient} : std::vector<Tensor>{}, retain_graph);
}

void Tensor::register_hook(std::function<Tensor(const Tensor&)> hook) const {
  KILN_CHECK(requires_grad(), ValueError, "register_hook: the tensor does not require grad");
  auto& m = *impl()->autograd;
  if (m.grad_fn)
    m.grad_fn->output_hooks[m.output_nr].push_back(std::move(hook));
  else
    m.hooks.push_back(std::move(hook));
}

void Tensor::retain_grad() const {
  KILN_CHECK(requires_grad(), ValueError, "retain_grad: the tensor does not require grad");
  auto& m = *impl()->autograd;
  if (m.grad_fn) m.grad_fn->retained[m.output_nr] = impl_ptr();
}

}  // namespace kiln
