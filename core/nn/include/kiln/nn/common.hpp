// What every layer header shares: the Size2 option type and the holder macro.
// Each layer has an Impl (the Module) and a handle of the layer's name:
//   nn::Conv2d conv(1, 6, 5, {.padding = 2});   conv->weight   conv(x)
// Default initialisation matches PyTorch's for each layer.
#pragma once

#include <kiln/nn/module.hpp>
#include <kiln/ops.hpp>

#include <array>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>

namespace kiln::nn {

// Two extents (height, width) given as one number or a pair: `{.padding = 2}`, `{.stride = {2, 1}}`.
struct Size2 {
  Size2(int64_t v = 0) : v_{v, v} {}  // NOLINT: implicit by design
  Size2(int64_t h, int64_t w) : v_{h, w} {}
  Size2(std::array<int64_t, 2> a) : v_(a) {}  // NOLINT
  int64_t operator[](size_t i) const { return v_[i]; }
  int64_t& operator[](size_t i) { return v_[i]; }
  operator std::array<int64_t, 2>() const { return v_; }  // NOLINT
  std::array<int64_t, 2> arr() const { return v_; }
  bool operator==(const Size2& o) const { return v_ == o.v_; }

 private:
  std::array<int64_t, 2> v_;
};
inline void to_json(Config& j, const Size2& s) { j = s.arr(); }

}  // namespace kiln::nn

// KILN_DECLARE_HOLDER(Name) opens the handle class of NameImpl; the layer header adds its
// constructors and closes it with `};`.
#define KILN_DECLARE_HOLDER(Name)                                                   \
  class Name : public ModuleHolder<Name##Impl> {                                   \
   public:                                                                         \
    using ModuleHolder<Name##Impl>::ModuleHolder;
