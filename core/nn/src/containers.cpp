// Containers: Sequential, ModuleList, ModuleDict.
#include <kiln/nn/containers.hpp>
#include <kiln/nn/functional.hpp>

#include "layer_config.hpp"

namespace kiln::nn {

namespace F = functional;

SequentialImpl::SequentialImpl(std::initializer_list<ModulePtr> layers) {
  for (auto& l : layers) push_back(l);
}
void SequentialImpl::push_back(ModulePtr layer) { push_back(std::to_string(named_children().size()), std::move(layer)); }
void SequentialImpl::push_back(const std::string& name, ModulePtr layer) { register_module(name, std::move(layer)); }
Tensor SequentialImpl::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& [n, m] : named_children()) y = (*m)(y);
  return y;
}

ModuleListImpl::ModuleListImpl(std::initializer_list<ModulePtr> layers) {
  for (auto& l : layers) push_back(l);
}
void ModuleListImpl::push_back(ModulePtr layer) {
  register_module(std::to_string(named_children().size()), std::move(layer));
}
Tensor ModuleListImpl::forward(const Tensor&) {
  throw ValueError("ModuleList is a container, not a layer: call its elements in your forward()");
}
void ModuleDictImpl::insert(const std::string& key, ModulePtr layer) { register_module(key, std::move(layer)); }
ModulePtr ModuleDictImpl::operator[](const std::string& key) const {
  ModulePtr m = child(key);
  KILN_CHECK(m != nullptr, IndexError, "ModuleDict: no key '", key, "'");
  return m;
}
Tensor ModuleDictImpl::forward(const Tensor&) {
  throw ValueError("ModuleDict is a container, not a layer: call its elements in your forward()");
}

void register_container_layers() {
  register_layer("Sequential", 1, [](const Config&) -> ModulePtr { return std::make_shared<SequentialImpl>(); });
  register_layer("ModuleList", 1, [](const Config&) -> ModulePtr { return std::make_shared<ModuleListImpl>(); });
  register_layer("ModuleDict", 1, [](const Config&) -> ModulePtr { return std::make_shared<ModuleDictImpl>(); });
}

}  // namespace kiln::nn
