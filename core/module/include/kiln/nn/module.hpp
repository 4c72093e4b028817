// nn::Module: named parameters, buffers and children; train/eval; device moves; state dicts;
// forward and forward-pre hooks. Layers are held by shared pointer inside ModuleHolder handles,
// so `nn::Sequential net{nn::Linear(784, 10), nn::ReLU()}` reads like Keras and PyTorch.
#pragma once

#include <kiln/tensor.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kiln::nn {

class Module;
using ModulePtr = std::shared_ptr<Module>;

// Layer configuration as saved in a .kiln file's architecture JSON.
using Config = nlohmann::ordered_json;

class Module : public std::enable_shared_from_this<Module> {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The computation. Override in every layer.
  virtual Tensor forward(const Tensor& x) = 0;
  // Runs pre-hooks, forward and hooks, under this module's layer path (so errors and anomaly
  // reports name it: "features.3"); a kiln::Error from inside gets the path and layer type added.
  Tensor operator()(const Tensor& x);

  // Registered type name, e.g. "Linear" (the key of the layer registry and of .kiln files).
  virtual std::string type_name() const = 0;
  // Constructor arguments, enough to rebuild the layer with the registry; {} for none.
  virtual Config config() const { return Config::object(); }
  // "in_features=784, out_features=10" for printing.
  virtual std::string extra_repr() const { return ""; }

  Tensor& register_parameter(const std::string& name, Tensor value, bool requires_grad = true);
  Tensor& register_buffer(const std::string& name, Tensor value);
  template <typename Holder>
  Holder& register_module(const std::string& name, Holder& holder) {
    add_child(name, holder.ptr());
    return holder;
  }
  ModulePtr register_module(const std::string& name, ModulePtr module) {
    add_child(name, module);
    return module;
  }

  // Recursive listings in registration order, names joined with '.'.
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, ModulePtr>> named_children() const { return children_; }
  // Itself first (with name ""), then every descendant.
  std::vector<std::pair<std::string, Module*>> named_modules(const std::string& prefix = "");
  ModulePtr child(const std::string& name) const;

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Moves parameters and buffers (in place: the same Tensor handles see the new data).
  Module& to(const Device& device);
  Module& to(DType dtype);  // floating parameters and buffers only
  void zero_grad();

  // Parameters and buffers by dotted name.
  std::map<std::string, Tensor> state_dict() const;
  // Copies values in; strict: every key must match both ways. Shape or dtype mismatch: errors.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  using ForwardHook = std::function<Tensor(Module&, const Tensor& input, const Tensor& output)>;
  using ForwardPreHook = std::function<Tensor(Module&, const Tensor& input)>;
  // A hook may return a replacement (defined) tensor. Returns an id for remove_hook.
  int register_forward_hook(ForwardHook hook);
  int register_forward_pre_hook(ForwardPreHook hook);
  void remove_hook(int id);

  // Multi-line description, like print(model) in PyTorch.
  std::string str() const;
  // The dotted name under which this module last ran (set by operator()).
  const std::string& path() const { return path_; }

 protected:
  std::vector<std::pair<std::string, Tensor>>& params() { return params_; }
  std::vector<std::pair<std::string, Tensor>>& buffers() { return buffers_; }
  bool training_ = true;

 private:
  void add_child(const std::string& name, ModulePtr module);
  void str_into(std::string& out, const std::string& name, int indent) const;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, ModulePtr>> children_;
  std::vector<std::pair<int, ForwardHook>> hooks_;
  std::vector<std::pair<int, ForwardPreHook>> pre_hooks_;
  int next_hook_id_ = 0;
  std::string path_;
  std::string name_in_parent_;
  friend class Sequential;
};

// A handle to a module of type Impl (like torch::nn::ModuleHolder).
template <typename Impl>
class ModuleHolder {
 public:
  using ImplType = Impl;
  explicit ModuleHolder(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  Impl* operator->() const { return impl_.get(); }
  Impl& operator*() const { return *impl_; }
  Impl* get() const { return impl_.get(); }
  const std::shared_ptr<Impl>& ptr() const { return impl_; }
  operator ModulePtr() const { return impl_; }  // NOLINT: lets Sequential take any layer
  Tensor operator()(const Tensor& x) const { return (*impl_)(x); }

 protected:
  std::shared_ptr<Impl> impl_;
};

}  // namespace kiln::nn
