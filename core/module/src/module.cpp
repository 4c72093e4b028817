// nn::Module plumbing: registration, traversal, hooks, state dicts.
#include <kiln/autograd.hpp>
#include <kiln/nn/module.hpp>

#include <algorithm>
#include <mutex>

namespace kiln::nn {

namespace {
template <typename E>
[[noreturn]] void rethrow_as(const E&, const std::string& message) {
  throw E(message);
}

[[noreturn]] void rethrow_with_layer(const std::string& path, const std::string& type) {
  std::string where = "layer '" + (path.empty() ? std::string("<root>") : path) + "' (" + type + "): ";
  try {
    throw;
  } catch (const autograd::AnomalyError&) {
    throw;
  } catch (const ShapeError& e) {
    rethrow_as(e, std::string(e.what()).rfind("layer '", 0) == 0 ? e.what() : where + e.what());
  } catch (const DTypeError& e) {
    rethrow_as(e, std::string(e.what()).rfind("layer '", 0) == 0 ? e.what() : where + e.what());
  } catch (const DeviceError& e) {
    rethrow_as(e, std::string(e.what()).rfind("layer '", 0) == 0 ? e.what() : where + e.what());
  } catch (const IndexError& e) {
    rethrow_as(e, std::string(e.what()).rfind("layer '", 0) == 0 ? e.what() : where + e.what());
  } catch (const ValueError& e) {
    rethrow_as(e, std::string(e.what()).rfind("layer '", 0) == 0 ? e.what() : where + e.what());
  }
}
}  // namespace

Tensor Module::operator()(const Tensor& input) {
  const std::string& parent = autograd::current_layer();
  path_ = parent.empty() ? name_in_parent_ : (name_in_parent_.empty() ? parent : parent + "." + name_in_parent_);
  autograd::LayerScope scope(path_);
  try {
    Tensor x = input;
    for (auto& [id, hook] : pre_hooks_)
      if (Tensor r = hook(*this, x); r.defined()) x = r;
    Tensor y = forward(x);
    for (auto& [id, hook] : hooks_)
      if (Tensor r = hook(*this, x, y); r.defined()) y = r;
    return y;
  } catch (const Error&) {
    rethrow_with_layer(path_, type_name());
  }
}

Tensor& Module::register_parameter(const std::string& name, Tensor value, bool requires_grad) {
  KILN_CHECK(!name.empty() && name.find('.') == std::string::npos, ValueError,
             "register_parameter: invalid name '", name, "' (non-empty, no '.')");
  if (value.defined() && requires_grad) value.set_requires_grad(true);
  for (auto& [n, t] : params_)
    if (n == name) return t = value;
  params_.emplace_back(name, value);
  return params_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor value) {
  KILN_CHECK(!name.empty() && name.find('.') == std::string::npos, ValueError,
             "register_buffer: invalid name '", name, "' (non-empty, no '.')");
  for (auto& [n, t] : buffers_)
    if (n == name) return t = value;
  buffers_.emplace_back(name, value);
  return buffers_.back().second;
}

void Module::add_child(const std::string& name, ModulePtr module) {
  KILN_CHECK(module != nullptr, ValueError, "register_module: '", name, "' is null");
  KILN_CHECK(!name.empty() && name.find('.') == std::string::npos, ValueError,
             "register_module: invalid name '", name, "' (non-empty, no '.')");
  module->name_in_parent_ = name;
  for (auto& [n, m] : children_)
    if (n == name) {
      m = module;
      return;
    }
  children_.emplace_back(name, std::move(module));
}

ModulePtr Module::child(const std::string& name) const {
  for (auto& [n, m] : children_)
    if (n == name) return m;
  return nullptr;
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (auto& [n, t] : params_)
    if (t.defined()) out.emplace_back(n, t);
  if (recurse)
    for (auto& [cn, c] : children_)
      for (auto& [n, t] : c->named_parameters(true)) out.emplace_back(cn + "." + n, t);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& entry : named_parameters(recurse)) {
    const Tensor& t = entry.second;  // not a structured binding: Clang 14 cannot capture those
    bool seen = std::any_of(out.begin(), out.end(), [&](const Tensor& o) { return o.same(t); });
    if (!seen) out.push_back(t);
  }
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (auto& [n, t] : buffers_)
    if (t.defined()) out.emplace_back(n, t);
  if (recurse)
    for (auto& [cn, c] : children_)
      for (auto& [n, t] : c->named_buffers(true)) out.emplace_back(cn + "." + n, t);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules(const std::string& prefix) {
  std::vector<std::pair<std::string, Module*>> out{{prefix, this}};
  for (auto& [n, c] : children_)
    for (auto& entry : c->named_modules(prefix.empty() ? n : prefix + "." + n)) out.push_back(entry);
  return out;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

namespace {
void move_in_place(Tensor& t, const std::function<Tensor(const Tensor&)>& convert) {
  if (!t.defined()) return;
  Tensor moved = convert(t.detach());
  if (moved.same(t)) return;
  bool needs = t.requires_grad();
  Tensor grad = t.grad();
  // Swap the data under the same handle so optimizers and users holding it see the move.
  TensorImpl* impl = t.impl();
  impl->storage = moved.impl()->storage;
  impl->shape = moved.shape();
  impl->strides = moved.strides();
  impl->offset = moved.offset();
  impl->dtype = moved.dtype();
  impl->device = moved.device();
  if (grad.defined()) t.set_grad(convert(grad));
  if (needs) t.set_requires_grad(true);
}
}  // namespace

Module& Module::to(const Device& device) {
  for (auto& [n, t] : params_) move_in_place(t, [&](const Tensor& x) { return x.to(device); });
  for (auto& [n, t] : buffers_) move_in_place(t, [&](const Tensor& x) { return x.to(device); });
  for (auto& [n, c] : children_) c->to(device);
  return *this;
}

Module& Module::to(DType dtype) {
  auto conv = [&](const Tensor& x) { return is_floating(x.dtype()) ? x.to(dtype) : x; };
  for (auto& [n, t] : params_) move_in_place(t, conv);
  for (auto& [n, t] : buffers_) move_in_place(t, conv);
  for (auto& [n, c] : children_) c->to(dtype);
  return *this;
}

void Module::zero_grad() {
  for (auto& p : parameters()) p.set_grad(Tensor());
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [n, t] : named_parameters()) out[n] = t;
  for (auto& [n, t] : named_buffers()) out[n] = t;
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  auto own = state_dict();
  if (strict) {
    std::string missing, unexpected;
    for (auto& [n, t] : own)
      if (!state.count(n)) missing += (missing.empty() ? "" : ", ") + n;
    for (auto& [n, t] : state)
      if (!own.count(n)) unexpected += (unexpected.empty() ? "" : ", ") + n;
    KILN_CHECK(missing.empty() && unexpected.empty(), ValueError, "load_state_dict: missing keys [", missing,
               "], unexpected keys [", unexpected, "]");
  }
  NoGradGuard guard;
  for (auto& [n, t] : own) {
    auto it = state.find(n);
    if (it == state.end()) continue;
    KILN_CHECK(it->second.shape() == t.shape(), ShapeError, "load_state_dict: '", n, "' has shape ",
               it->second.shape(), " in the state dict but ", t.shape(), " in the model");
    Tensor target = t;
    target.copy_(it->second);
  }
}

int Module::register_forward_hook(ForwardHook hook) {
  hooks_.emplace_back(next_hook_id_, std::move(hook));
  return next_hook_id_++;
}
int Module::register_forward_pre_hook(ForwardPreHook hook) {
  pre_hooks_.emplace_back(next_hook_id_, std::move(hook));
  return next_hook_id_++;
}
void Module::remove_hook(int id) {
  std::erase_if(hooks_, [&](auto& h) { return h.first == id; });
  std::erase_if(pre_hooks_, [&](auto& h) { return h.first == id; });
}

void Module::str_into(std::string& out, const std::string& name, int indent) const {
  out += std::string(indent, ' ') + (name.empty() ? "" : "(" + name + "): ") + type_name() + "(";
  std::string extra = extra_repr();
  if (children_.empty()) {
    out += extra + ")\n";
    return;
  }
  out += extra + "\n";
  for (auto& [n, c] : children_) c->str_into(out, n, indent + 2);
  out += std::string(indent, ' ') + ")\n";
}

std::string Module::str() const {
  std::string out;
  str_into(out, "", 0);
  return out;
}

}  // namespace kiln::nn
