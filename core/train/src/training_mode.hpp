// Private: saves every module's train/eval flag and restores it on scope exit.
#pragma once

#include <kiln/nn/module.hpp>

#include <utility>
#include <vector>

namespace kiln::detail {

class TrainingModeGuard {
 public:
  // Saves the flags of module and its descendants, then sets them all to train (or eval).
  TrainingModeGuard(nn::Module& module, bool train) {
    for (auto& [name, m] : module.named_modules()) saved_.emplace_back(m, m->is_training());
    module.train(train);
  }
  // Module::train recurses, and named_modules lists every parent before its descendants, so
  // restoring in list order leaves each module with its own saved flag.
  ~TrainingModeGuard() {
    for (auto& [m, flag] : saved_) m->train(flag);
  }
  TrainingModeGuard(const TrainingModeGuard&) = delete;
  TrainingModeGuard& operator=(const TrainingModeGuard&) = delete;

 private:
  std::vector<std::pair<nn::Module*, bool>> saved_;
};

}  // namespace kiln::detail
