// Containers: Sequential, ModuleList, ModuleDict.
#pragma once

#include <kiln/nn/common.hpp>

namespace kiln::nn {

class SequentialImpl : public Module {
 public:
  SequentialImpl() = default;
  explicit SequentialImpl(std::initializer_list<ModulePtr> layers);
  void push_back(ModulePtr layer);
  void push_back(const std::string& name, ModulePtr layer);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
  size_t size() const { return named_children().size(); }
  ModulePtr operator[](size_t i) const { return named_children().at(i).second; }
};
KILN_DECLARE_HOLDER(Sequential)
  Sequential() : ModuleHolder(std::make_shared<SequentialImpl>()) {}
  Sequential(std::initializer_list<ModulePtr> layers) : ModuleHolder(std::make_shared<SequentialImpl>(layers)) {}
};

class ModuleListImpl : public Module {
 public:
  ModuleListImpl() = default;
  explicit ModuleListImpl(std::initializer_list<ModulePtr> layers);
  void push_back(ModulePtr layer);
  Tensor forward(const Tensor&) override;  // throws: a ModuleList is not callable
  std::string type_name() const override { return "ModuleList"; }
  size_t size() const { return named_children().size(); }
  ModulePtr operator[](size_t i) const { return named_children().at(i).second; }
};
KILN_DECLARE_HOLDER(ModuleList)
  ModuleList() : ModuleHolder(std::make_shared<ModuleListImpl>()) {}
  ModuleList(std::initializer_list<ModulePtr> layers) : ModuleHolder(std::make_shared<ModuleListImpl>(layers)) {}
};

class ModuleDictImpl : public Module {
 public:
  ModuleDictImpl() = default;
  void insert(const std::string& key, ModulePtr layer);
  ModulePtr operator[](const std::string& key) const;
  bool contains(const std::string& key) const { return child(key) != nullptr; }
  Tensor forward(const Tensor&) override;  // throws
  std::string type_name() const override { return "ModuleDict"; }
};
KILN_DECLARE_HOLDER(ModuleDict)
  ModuleDict() : ModuleHolder(std::make_shared<ModuleDictImpl>()) {}
};

}  // namespace kiln::nn
